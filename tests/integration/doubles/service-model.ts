/**
 * RequestValidator: checks a request against the AWS service model the way the service does
 * before it acts, so that the emulator boundary refuses what AWS refuses.
 *
 * The models are botocore's (`service-2.json[.gz]` of the venv that runs moto: the same shapes
 * the AWS SDKs are generated from). Generic over every operation of every service: the request is
 * decoded per protocol (`json`, `rest-json` body, `ec2` and `query` form fields) into the input
 * shape, then every constraint the model states is checked: required members, string length
 * (`min`/`max`), `pattern`, `enum`, list and map sizes (`min`/`max`), number ranges. A violation
 * answers HTTP 400 as the service would: `ValidationException` (JSON protocols),
 * `MissingParameter` / `InvalidParameterValue` (EC2), `ValidationError` (Query).
 * No limit is written by hand here: each one is read from the model.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const BOTOCORE_DATA = resolve(
  fileURLToPath(new URL('.', import.meta.url)),
  '../../../.cache/venv/lib',
  // python3.X: the one directory under lib/
  readdirSync(resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../.cache/venv/lib')).find((d) =>
    d.startsWith('python3'),
  ) ?? 'python3',
  'site-packages/botocore/data',
);

/** SigV4 signing name → botocore data directory, where they differ. */
const DATA_DIRECTORY: Record<string, string> = { states: 'stepfunctions' };

interface Shape {
  type: string;
  members?: Record<string, Member>;
  required?: string[];
  member?: Member;
  key?: Member;
  value?: Member;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  flattened?: boolean;
}
interface Member {
  shape: string;
  location?: string;
  locationName?: string;
  queryName?: string;
}
interface Operation {
  name: string;
  http?: { method: string; requestUri: string };
  input?: { shape: string };
}
export interface ServiceModel {
  metadata: { protocol: string; signingName?: string; endpointPrefix: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

/** One constraint of the model, as checked against a request. */
export interface Constraint {
  service: string;
  operation: string;
  /** Member path in the input, e.g. `ImageIds` or `TagSpecifications[].Tags[].Key`. */
  path: string;
  /** `required`, `min`, `max`, `pattern`, `enum`. */
  kind: string;
  /** The bound, pattern or value list. */
  bound: string;
}

export interface Violation extends Constraint {
  message: string;
}

export interface ValidationReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const capitalize = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);

/** Loads botocore models on demand and validates decoded requests against them. */
export class RequestValidator {
  readonly #models = new Map<string, ServiceModel>();
  /** Every constraint checked against a request value so far, keyed by its description. */
  readonly checked = new Map<string, Constraint>();
  /** Patterns JavaScript cannot compile (Java-only syntax): not checked, listed for transparency. */
  readonly uncompilable = new Set<string>();

  /** The model of a service by its SigV4 signing name (`ec2`, `ssm`, `states`, …). */
  model(signingName: string): ServiceModel {
    const cached = this.#models.get(signingName);
    if (cached) return cached;
    const directory = join(BOTOCORE_DATA, DATA_DIRECTORY[signingName] ?? signingName);
    const version = readdirSync(directory).sort().at(-1) ?? '';
    const files = readdirSync(join(directory, version));
    const file =
      files.find((name) => name === 'service-2.json') ?? files.find((name) => name === 'service-2.json.gz');
    if (!file) throw new Error(`no botocore model for ${signingName} in ${directory}`);
    const raw = readFileSync(join(directory, version, file));
    const model = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString()) as ServiceModel;
    this.#models.set(signingName, model);
    return model;
  }

  /** The operation a REST request addresses (`rest-json` services: method and URI template). */
  restOperation(signingName: string, method: string, path: string): string | undefined {
    const { operations } = this.model(signingName);
    return Object.values(operations).find((operation) => {
      const http = operation.http;
      if (!http || http.method !== method) return false;
      const template = http.requestUri.split('?')[0] ?? '';
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      return pattern.test(path);
    })?.name;
  }

  /**
   * The members a REST request carries in its URI (`/2015-03-31/functions/{FunctionName}/configuration`
   * → `{ FunctionName }`), decoded, keyed by member name (the template names their `locationName`).
   */
  restUriMembers(signingName: string, operation: string, path: string): Record<string, string> {
    const model = this.model(signingName);
    const http = model.operations[operation]?.http;
    const inputShape = model.operations[operation]?.input?.shape;
    if (!http || !inputShape) return {};
    const template = http.requestUri.split('?')[0] ?? '';
    const placeholders = [...template.matchAll(/\{([^}+]+)\+?\}/g)].map((match) => match[1] as string);
    const values = new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`).exec(path);
    if (!values) return {};
    const members = Object.entries(model.shapes[inputShape]?.members ?? {});
    const decoded: Record<string, string> = {};
    placeholders.forEach((placeholder, index) => {
      const name = members.find(([, m]) => m.location === 'uri' && m.locationName === placeholder)?.[0];
      if (name) decoded[name] = decodeURIComponent(values[index + 1] ?? '');
    });
    return decoded;
  }

  /**
   * Decode a request into the operation's input structure.
   * @param body the raw body; form fields for `ec2` / `query`, JSON otherwise.
   */
  decode(signingName: string, operation: string, body: Buffer | URLSearchParams): Record<string, unknown> {
    const model = this.model(signingName);
    const input = model.operations[operation]?.input?.shape;
    if (!input) return {};
    if (body instanceof URLSearchParams) {
      const protocol = model.metadata.protocol;
      return (this.#decodeForm(model, input, '', body, protocol) as Record<string, unknown>) ?? {};
    }
    return body.length > 0 ? (JSON.parse(body.toString()) as Record<string, unknown>) : {};
  }

  #formKey(member: Member, name: string, protocol: string): string {
    if (protocol === 'ec2') return member.queryName ?? capitalize(member.locationName ?? name);
    return member.locationName ?? name;
  }

  #decodeForm(
    model: ServiceModel,
    shapeName: string,
    prefix: string,
    form: URLSearchParams,
    protocol: string,
  ): unknown {
    const shape = model.shapes[shapeName];
    if (!shape) return undefined;
    const under = (key: string) => [...form.keys()].some((k) => k === key || k.startsWith(`${key}.`));
    switch (shape.type) {
      case 'structure': {
        const value: Record<string, unknown> = {};
        for (const [name, member] of Object.entries(shape.members ?? {})) {
          const key = this.#formKey(member, name, protocol);
          const path = prefix ? `${prefix}.${key}` : key;
          const decoded = this.#decodeForm(model, member.shape, path, form, protocol);
          if (decoded !== undefined) value[name] = decoded;
        }
        return prefix === '' || Object.keys(value).length > 0 ? value : undefined;
      }
      case 'list': {
        if (!shape.member) return undefined;
        const flattened = protocol === 'ec2' || shape.flattened === true;
        const base = flattened ? prefix : `${prefix}.${shape.member.locationName ?? 'member'}`;
        const items: unknown[] = [];
        for (let n = 1; under(`${base}.${n}`); n += 1) {
          items.push(this.#decodeForm(model, shape.member.shape, `${base}.${n}`, form, protocol));
        }
        // An empty list is sent as the bare key (`Key=`) by the Query protocol.
        return items.length > 0 ? items : form.has(prefix) ? [] : undefined;
      }
      case 'map': {
        if (!under(prefix)) return undefined;
        const entries: Record<string, unknown> = {};
        for (let n = 1; under(`${prefix}.entry.${n}`) || under(`${prefix}.${n}`); n += 1) {
          const base = under(`${prefix}.entry.${n}`) ? `${prefix}.entry.${n}` : `${prefix}.${n}`;
          entries[String(form.get(`${base}.key`) ?? form.get(`${base}.Key`))] =
            form.get(`${base}.value`) ?? form.get(`${base}.Value`);
        }
        return entries;
      }
      default: {
        const raw = form.get(prefix);
        if (raw === null) return undefined;
        if (shape.type === 'integer' || shape.type === 'long') return Number(raw);
        if (shape.type === 'boolean') return raw === 'true';
        return raw;
      }
    }
  }

  /** Every violation of the model by `input` (empty: valid). */
  validate(signingName: string, operation: string, input: Record<string, unknown>): Violation[] {
    const model = this.model(signingName);
    const shape = model.operations[operation]?.input?.shape;
    const violations: Violation[] = [];
    if (!model.operations[operation]) {
      violations.push({
        service: signingName,
        operation,
        path: '',
        kind: 'operation',
        bound: 'known',
        message: `${operation} is not an operation of ${signingName}`,
      });
      return violations;
    }
    if (shape) this.#check(model, signingName, operation, shape, input, '', violations);
    return violations;
  }

  #note(constraint: Constraint): Constraint {
    const key = `${constraint.service}:${constraint.operation} ${constraint.path} ${constraint.kind} ${constraint.bound}`;
    if (!this.checked.has(key)) this.checked.set(key, constraint);
    return constraint;
  }

  #check(
    model: ServiceModel,
    service: string,
    operation: string,
    shapeName: string,
    value: unknown,
    path: string,
    violations: Violation[],
  ): void {
    const shape = model.shapes[shapeName];
    if (!shape || value === undefined || value === null) return;
    const fail = (kind: string, bound: string, message: string) => {
      const constraint = this.#note({ service, operation, path: path || '(input)', kind, bound });
      violations.push({ ...constraint, message: `${path || 'input'} ${message}` });
    };
    const note = (kind: string, bound: string) =>
      this.#note({ service, operation, path: path || '(input)', kind, bound });
    const size = (count: number, unit: string) => {
      if (shape.min !== undefined) {
        note('min', String(shape.min));
        if (count < shape.min)
          fail('min', String(shape.min), `must have at least ${shape.min} ${unit}, got ${count}`);
      }
      if (shape.max !== undefined) {
        note('max', String(shape.max));
        if (count > shape.max)
          fail('max', String(shape.max), `must have at most ${shape.max} ${unit}, got ${count}`);
      }
    };
    switch (shape.type) {
      case 'structure': {
        const object = value as Record<string, unknown>;
        for (const name of shape.required ?? []) {
          const member = `${path ? `${path}.` : ''}${name}`;
          this.#note({ service, operation, path: member, kind: 'required', bound: 'true' });
          if (object[name] === undefined || object[name] === null) {
            violations.push({
              service,
              operation,
              path: member,
              kind: 'required',
              bound: 'true',
              message: `${member} is required`,
            });
          }
        }
        for (const [name, member] of Object.entries(shape.members ?? {})) {
          if (member.location && member.location !== 'body') continue; // URI/header members
          this.#check(
            model,
            service,
            operation,
            member.shape,
            object[name],
            `${path ? `${path}.` : ''}${name}`,
            violations,
          );
        }
        return;
      }
      case 'list': {
        const items = Array.isArray(value) ? value : [value];
        size(items.length, 'items');
        for (const item of items) {
          if (shape.member)
            this.#check(model, service, operation, shape.member.shape, item, `${path}[]`, violations);
        }
        return;
      }
      case 'map': {
        const entries = Object.entries(value as Record<string, unknown>);
        size(entries.length, 'entries');
        for (const [key, item] of entries) {
          if (shape.key)
            this.#check(model, service, operation, shape.key.shape, key, `${path}{key}`, violations);
          if (shape.value)
            this.#check(model, service, operation, shape.value.shape, item, `${path}{}`, violations);
        }
        return;
      }
      case 'string': {
        const text = String(value);
        size([...text].length, 'characters');
        if (shape.enum) {
          note('enum', shape.enum.join('|'));
          if (!shape.enum.includes(text)) {
            fail('enum', shape.enum.join('|'), `must be one of ${shape.enum.join(', ')}, got "${text}"`);
          }
        }
        if (shape.pattern) {
          let pattern: RegExp | undefined;
          try {
            pattern = new RegExp(shape.pattern, 'u');
          } catch {
            this.uncompilable.add(`${service}:${shapeName} ${shape.pattern}`);
          }
          if (pattern) {
            note('pattern', shape.pattern);
            // Model patterns are not implicitly anchored (Smithy @pattern semantics).
            if (!pattern.test(text))
              fail('pattern', shape.pattern, `must match ${shape.pattern}, got "${text}"`);
          }
        }
        return;
      }
      case 'integer':
      case 'long': {
        const number = Number(value);
        if (shape.min !== undefined) {
          note('min', String(shape.min));
          if (number < shape.min)
            fail('min', String(shape.min), `must be at least ${shape.min}, got ${number}`);
        }
        if (shape.max !== undefined) {
          note('max', String(shape.max));
          if (number > shape.max)
            fail('max', String(shape.max), `must be at most ${shape.max}, got ${number}`);
        }
        return;
      }
      default:
        return;
    }
  }

  /** The service's error reply for the first violation (HTTP 400, in the service's protocol). */
  reply(signingName: string, violations: readonly Violation[]): ValidationReply {
    const protocol = this.model(signingName).metadata.protocol;
    const first = violations[0];
    const message = `${violations.length} validation error(s) detected: ${violations.map((v) => v.message).join('; ')}`;
    const xmlText = (text: string) =>
      text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    if (protocol === 'ec2') {
      const code = first?.kind === 'required' ? 'MissingParameter' : 'InvalidParameterValue';
      return {
        status: 400,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: Buffer.from(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${xmlText(message)}</Message></Error></Errors><RequestID>validator</RequestID></Response>`,
        ),
      };
    }
    if (protocol === 'query') {
      return {
        status: 400,
        headers: { 'content-type': 'text/xml' },
        body: Buffer.from(
          `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>${xmlText(message)}</Message></Error><RequestId>validator</RequestId></ErrorResponse>`,
        ),
      };
    }
    const contentType = protocol === 'json' ? 'application/x-amz-json-1.1' : 'application/json';
    return {
      status: 400,
      headers: { 'content-type': contentType, 'x-amzn-errortype': 'ValidationException' },
      body: Buffer.from(JSON.stringify({ __type: 'ValidationException', message })),
    };
  }
}
