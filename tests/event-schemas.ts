/**
 * The JSON Schemas of the factory's events (`schemas/events/*.schema.json`, draft 2020-12) compiled
 * with ajv, for every test that checks an emitted event: unit (the builders, the steps, the local
 * event log) and integration (what EventBridge delivered on moto). A test devDependency: ajv never
 * reaches a bundle (`tests/unit/bundles.test.ts`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import {
  DETAIL_TYPES,
  type DetailType,
  EVENT_SOURCE,
  type FactoryEvent,
  schemaFileOf,
} from '#commons/core/events.js';

export const EVENT_SCHEMA_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'schemas',
  'events',
);

/** Every schema file, parsed, by file name. */
export const eventSchemaFiles = (): Map<string, Record<string, unknown>> =>
  new Map(
    readdirSync(EVENT_SCHEMA_DIR)
      .filter((name) => name.endsWith('.schema.json'))
      .map((name) => [name, JSON.parse(readFileSync(path.join(EVENT_SCHEMA_DIR, name), 'utf8'))]),
  );

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
for (const schema of eventSchemaFiles().values()) ajv.addSchema(schema);

/**
 * The schema's problems with an event as EventBridge delivers it (`detail-type`, `source`,
 * `detail`, …), or `[]` when it is valid.
 * @throws when the detail-type has no schema.
 */
export const eventProblems = (delivered: { 'detail-type': string } & Record<string, unknown>): string[] => {
  const detailType = delivered['detail-type'];
  if (!Object.values(DETAIL_TYPES).includes(detailType as DetailType))
    throw new Error(`no schema for detail-type "${detailType}"`);
  const validate = ajv.getSchema(
    `urn:image-factory:events:${schemaFileOf(detailType as DetailType).replace('.schema.json', '')}`,
  );
  if (!validate) throw new Error(`schema of ${detailType} not loaded`);
  if (validate(delivered)) return [];
  return (validate.errors ?? []).map(
    (error: ErrorObject) =>
      `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
  );
};

/** A built event in the shape EventBridge delivers it (the detail as JSON would carry it). */
export const delivered = (
  event: FactoryEvent,
): { 'detail-type': string; source: string; detail: unknown } => ({
  'detail-type': event.detailType,
  source: EVENT_SOURCE,
  detail: JSON.parse(JSON.stringify(event.detail)),
});
