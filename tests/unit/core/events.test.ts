/**
 * The event builders (`core/events.ts`) against the JSON Schemas of `schemas/events/`: every built
 * event validates, each per-event null rule holds, and the schemas refuse what they must refuse
 * (an unknown detail field, a missing one, a non-null field where the event has none).
 */
import { describe, expect, it } from 'vitest';
import {
  architectureOf,
  buildFailed,
  buildSuperseded,
  DETAIL_TYPES,
  EVENT_SOURCE,
  EVENT_TEXT_LIMITS,
  imagePromoted,
  imageRolledBack,
  probeSummaryOf,
  schemaFileOf,
} from '#commons/core/events.js';
import { STAGE_NAME_PATTERN } from '#commons/schemas.js';
import { delivered, eventProblems, eventSchemaFiles } from '../../event-schemas.js';
import { BUILD, CANDIDATE, COMMIT } from '../helpers/fixtures.js';

const ORIGIN = { stage: 'prod', region: 'eu-west-1' };
const POINTER = { parameterName: '/image-factory/prod/channels/web/stable', parameterVersion: 4 };
const PASSED = {
  status: 'Success',
  checks: [
    { name: 'service-ssh', ok: true },
    { name: 'web-health', ok: true },
  ],
  failed: [],
  summary: '2/2 checks passed',
};
const IMAGE = {
  imageId: CANDIDATE.imageId,
  architecture: 'x86_64',
  tags: {
    'factory:build-id': BUILD.buildId,
    'factory:commit': COMMIT,
    'factory:source-ami': BUILD.sourceImageId,
  },
};
const OLD_IMAGE = {
  imageId: 'ami-0bbbbbbbbbbbbbbb1',
  tags: { 'factory:base-image': 'debian-12', 'factory:build-id': 'web-aaaaaaaaaaaa' },
};

const built = {
  promoted: imagePromoted(ORIGIN, {
    build: BUILD,
    image: IMAGE,
    previousImageId: OLD_IMAGE.imageId,
    pointer: POINTER,
    probe: PASSED,
  }),
  promotedByCli: imagePromoted(ORIGIN, {
    build: { buildId: CANDIDATE.imageId, pipeline: 'web', channel: 'stable' },
    image: IMAGE,
    previousImageId: null,
    pointer: POINTER,
  }),
  superseded: buildSuperseded(ORIGIN, {
    build: BUILD,
    image: IMAGE,
    currentImageId: OLD_IMAGE.imageId,
    reason: 'not newer than current image ami-0bbbbbbbbbbbbbbb1',
    pointer: POINTER,
    probe: PASSED,
  }),
  rolledBack: imageRolledBack(ORIGIN, {
    pipeline: 'web',
    channel: 'stable',
    image: OLD_IMAGE,
    previousImageId: IMAGE.imageId,
    pointer: { ...POINTER, parameterVersion: 5 },
  }),
  failedBeforeBake: buildFailed(ORIGIN, {
    build: { ...BUILD, commit: undefined },
    error: { Error: 'States.TaskFailed', Cause: 'bake exited 1' },
    failedState: 'BakeImage',
  }),
  failedAfterProbe: buildFailed(ORIGIN, {
    build: BUILD,
    candidateImageId: CANDIDATE.imageId,
    probe: PASSED,
    error: { Error: 'EventPublishFailed' },
    failedState: 'PromoteImage',
  }),
};

describe('factory events', () => {
  it.each(Object.entries(built))('%s validates against its schema', (_name, event) => {
    expect(eventProblems(delivered(event))).toEqual([]);
  });

  it('has one schema file per detail-type, and the shared definitions, nothing else', () => {
    const expected = [...Object.values(DETAIL_TYPES).map(schemaFileOf), 'definitions.schema.json'].sort();

    expect([...eventSchemaFiles().keys()].sort()).toEqual(expected);
  });

  it('uses a source EventBridge accepts from an application (aws. is reserved) and the schemas state it', () => {
    expect(EVENT_SOURCE.startsWith('aws.')).toBe(false);
    for (const type of Object.values(DETAIL_TYPES)) {
      const schema = eventSchemaFiles().get(schemaFileOf(type)) as {
        properties: Record<string, { const?: string }>;
      };
      expect(schema.properties.source?.const, type).toBe(EVENT_SOURCE);
      expect(schema.properties['detail-type']?.const, type).toBe(type);
    }
  });

  it('states the stage pattern of the input schemas', () => {
    const definitions = eventSchemaFiles().get('definitions.schema.json') as {
      $defs: { stage: { pattern: string } };
    };
    expect(definitions.$defs.stage.pattern).toBe(STAGE_NAME_PATTERN.source);
  });

  it.each([...eventSchemaFiles().entries()].filter(([name]) => name !== 'definitions.schema.json'))(
    '%s: its own example validates',
    (_name, schema) => {
      for (const example of (schema.examples as Array<{ 'detail-type': string }>) ?? []) {
        expect(eventProblems(example)).toEqual([]);
      }
    },
  );

  it('fills an Image Promoted detail from the build, the image and the probe', () => {
    expect(built.promoted.detail).toEqual({
      schemaVersion: 1,
      stage: 'prod',
      region: 'eu-west-1',
      pipeline: 'web',
      channel: 'stable',
      architecture: 'x86_64',
      imageId: CANDIDATE.imageId,
      previousImageId: OLD_IMAGE.imageId,
      buildId: BUILD.buildId,
      commit: COMMIT,
      sourceImageId: BUILD.sourceImageId,
      probe: { summary: '2/2 checks passed', checks: 2, failed: [] },
      parameterName: POINTER.parameterName,
      parameterVersion: 4,
    });
  });

  it('takes what the image tags record when promoted without a build (factory promote): no probe', () => {
    expect(built.promotedByCli.detail).toMatchObject({
      buildId: BUILD.buildId,
      commit: COMMIT,
      sourceImageId: BUILD.sourceImageId,
      previousImageId: null,
      probe: null,
    });
  });

  it('rolls back with the image tags only; architecture from its base image; no probe', () => {
    expect(built.rolledBack.detail).toMatchObject({
      architecture: 'x86_64',
      buildId: 'web-aaaaaaaaaaaa',
      commit: null,
      sourceImageId: null,
      probe: null,
      previousImageId: IMAGE.imageId,
    });
  });

  it('reports a failure with its error, the failed state, the candidate when found, the probe when passed', () => {
    expect(built.failedBeforeBake.detail).toMatchObject({
      imageId: null,
      commit: null,
      probe: null,
      error: { name: 'States.TaskFailed', cause: 'bake exited 1' },
      failedState: 'BakeImage',
    });
    expect(built.failedAfterProbe.detail).toMatchObject({
      imageId: CANDIDATE.imageId,
      probe: { checks: 2 },
      error: { name: 'EventPublishFailed', cause: null },
    });
  });

  it('cuts long causes and check lists to the limits the schemas allow', () => {
    const event = buildFailed(ORIGIN, {
      build: BUILD,
      error: { Error: 'ProbeFailed', Cause: 'x'.repeat(10_000) },
      failedState: 'CheckProbeResult',
    });
    const probe = probeSummaryOf({
      status: 'Success',
      checks: [],
      failed: Array.from({ length: 150 }, (_, n) => `check-${n}-${'y'.repeat(200)}`),
      summary: 'z'.repeat(2000),
    });

    expect((event.detail as unknown as { error: { cause: string } }).error.cause).toHaveLength(
      EVENT_TEXT_LIMITS.cause,
    );
    expect(probe?.failed).toHaveLength(EVENT_TEXT_LIMITS.failed);
    expect(probe?.failed[0]).toHaveLength(EVENT_TEXT_LIMITS.name);
    expect(probe?.summary.endsWith('…')).toBe(true);
    expect(eventProblems(delivered(event))).toEqual([]);
  });

  it('gives no probe summary for a probe that has not passed', () => {
    expect(probeSummaryOf({ status: 'InProgress', checks: [], failed: [] })).toBeNull();
    expect(probeSummaryOf(undefined)).toBeNull();
  });

  it('knows the architecture from the image, else its base image, else not at all', () => {
    expect(architectureOf({ imageId: 'ami-1', tags: {}, architecture: 'arm64' })).toBe('arm64');
    expect(architectureOf({ imageId: 'ami-1', tags: {} }, 'al2023')).toBe('x86_64');
    expect(architectureOf({ imageId: 'ami-1', tags: { 'factory:base-image': 'nope' } })).toBeNull();
    expect(architectureOf({ imageId: 'ami-1', tags: {}, architecture: 'i386' })).toBeNull();
  });

  describe('the schemas refuse', () => {
    const promoted = () =>
      delivered(built.promoted) as { detail: Record<string, unknown> } & Record<string, unknown>;

    it('a detail field they do not define', () => {
      const event = promoted();
      event.detail.extra = 1;
      expect(eventProblems(event as never).join()).toContain('must NOT have additional properties');
    });

    it('a missing field (absent is not null)', () => {
      const event = promoted();
      delete event.detail.commit;
      expect(eventProblems(event as never).join()).toContain("must have required property 'commit'");
    });

    it('a value where the event has none (Image Rolled Back: probe)', () => {
      const event = delivered(built.rolledBack) as { detail: Record<string, unknown> } & Record<
        string,
        unknown
      >;
      event.detail.probe = { summary: '1/1 checks passed', checks: 1, failed: [] };
      expect(eventProblems(event as never)).not.toEqual([]);
    });

    it('another source', () => {
      expect(eventProblems({ ...promoted(), source: 'aws.ec2' } as never)).not.toEqual([]);
    });
  });
});
