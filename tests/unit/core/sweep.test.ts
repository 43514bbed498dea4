import { describe, expect, it } from 'vitest';
import { buildId, executionArnOf } from '#commons/core/build-key.js';
import {
  type ExecutionFacts,
  executionsOf,
  type Leftover,
  type LeftoverKind,
  ownedLeftovers,
  planSweep,
  type SweepInput,
} from '#commons/core/sweep.js';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:golden-image-factory-prod';
const OTHER_STAGE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:golden-image-factory-dev';
const SCOPE = { stage: 'prod', stateMachineArn: STATE_MACHINE, pipelines: ['web', 'api'] };
const NOW = new Date('2026-06-30T12:00:00.000Z');
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

const EXECUTION = 'web-stable-ami-0aaaaaaaaaaaaaaaa-0123456-deadbeef';
const ARN = executionArnOf(STATE_MACHINE, EXECUTION);
const BUILD = buildId({ pipeline: 'web', executionArn: ARN });

/** The tags each kind gets from Packer (`run_tags` / `tags`) or LaunchTestInstance. */
const MARKS: Record<LeftoverKind, { tags: Record<string, string>; name: string; id: string }> = {
  'build-instance': {
    id: 'i-0000000000000000b',
    name: `packer-${BUILD}`,
    tags: { 'factory:role': 'build-instance' },
  },
  'test-instance': {
    id: 'i-0000000000000000t',
    name: `web test ${BUILD}`,
    tags: { 'factory:role': 'test-instance' },
  },
  'security-group': {
    id: 'sg-0000000000000000s',
    name: 'packer_6543a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a5b',
    tags: { 'factory:role': 'build-instance' },
  },
  'key-pair': {
    id: 'packer_6543a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a5c',
    name: 'packer_6543a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a5c',
    tags: { 'factory:role': 'build-instance' },
  },
  image: {
    id: 'ami-0000000000000000c',
    name: `${BUILD}-20260630110000`,
    tags: { 'factory:channel': 'candidate' },
  },
};

const leftover = (
  kind: LeftoverKind,
  overrides: Partial<Leftover> = {},
  tags: Record<string, string> = {},
): Leftover => ({
  kind,
  id: MARKS[kind].id,
  name: MARKS[kind].name,
  createdAt: kind === 'security-group' ? undefined : minutesAgo(120),
  ...(kind === 'image' ? { snapshotIds: ['snap-0000000000000000c'] } : {}),
  ...overrides,
  tags: {
    'factory:stage': 'prod',
    'factory:pipeline': 'web',
    'factory:build-id': BUILD,
    'factory:execution': EXECUTION,
    ...MARKS[kind].tags,
    ...tags,
  },
});

const ALL_KINDS: LeftoverKind[] = ['build-instance', 'test-instance', 'security-group', 'key-pair', 'image'];
const stopped = (status: ExecutionFacts['status'], minutes = 90): ExecutionFacts => ({
  status,
  stoppedAt: minutesAgo(minutes),
});
const plan = (resources: Leftover[], facts: ExecutionFacts, extra: Partial<SweepInput> = {}) =>
  planSweep({
    resources: ownedLeftovers(resources, SCOPE),
    executions: new Map([[ARN, facts]]),
    now: NOW,
    graceMinutes: 30,
    ...extra,
  }).map((d) => [d.resource.kind, d.action, d.reason]);

describe('ownedLeftovers (rule 1: only this stage’s, provably)', () => {
  it('keeps every kind a build leaves, with its execution ARN', () => {
    const owned = ownedLeftovers(
      ALL_KINDS.map((kind) => leftover(kind)),
      SCOPE,
    );

    expect(owned.map((r) => r.kind)).toEqual(ALL_KINDS);
    expect(new Set(owned.map((r) => r.executionArn))).toEqual(new Set([ARN]));
    expect(executionsOf(owned)).toEqual([ARN]);
  });

  it.each<[string, Leftover]>([
    ['another pipeline', leftover('build-instance', {}, { 'factory:pipeline': 'edge' })],
    [
      'another stage’s tag (even with this stage’s build id)',
      leftover('image', {}, { 'factory:stage': 'dev' }),
    ],
    ['no stage tag', leftover('key-pair', {}, { 'factory:stage': '' })],
    [
      'another stage (same execution name, the other state machine’s build id)',
      leftover(
        'build-instance',
        {},
        {
          'factory:build-id': buildId({
            pipeline: 'web',
            executionArn: executionArnOf(OTHER_STAGE, EXECUTION),
          }),
        },
      ),
    ],
    [
      'a build id that is no execution’s',
      leftover('test-instance', {}, { 'factory:build-id': 'web-0123456789ab' }),
    ],
    ['no build id', leftover('test-instance', {}, { 'factory:build-id': '' })],
    ['a manual Packer run', leftover('build-instance', {}, { 'factory:execution': 'manual' })],
    ['an execution tag that is no execution name', leftover('image', {}, { 'factory:execution': 'a b/c' })],
    ['an instance with no factory role', leftover('build-instance', {}, { 'factory:role': 'web-server' })],
    ['a security group not named packer_', leftover('security-group', { name: 'web-builders' })],
    ['a key pair not named packer_', leftover('key-pair', { id: 'ops', name: 'ops' })],
    ['a promoted image', leftover('image', {}, { 'factory:channel': 'stable' })],
    ['a previous image', leftover('image', {}, { 'factory:channel': 'previous-stable' })],
  ])('drops %s', (_label, resource) => {
    expect(ownedLeftovers([resource], SCOPE)).toEqual([]);
  });

  it('drops untagged resources', () => {
    const untagged: Leftover = { kind: 'key-pair', id: 'packer_x', name: 'packer_x', tags: {} };
    expect(ownedLeftovers([untagged], SCOPE)).toEqual([]);
  });

  it('refuses a state machine ARN that is none (configuration error)', () => {
    expect(() => ownedLeftovers([leftover('image')], { ...SCOPE, stateMachineArn: 'golden' })).toThrow(
      /not a state machine ARN/,
    );
  });
});

describe('planSweep', () => {
  it.each(['FAILED', 'ABORTED', 'TIMED_OUT', 'SUCCEEDED'] as const)(
    'removes everything of a %s execution past the grace period, instances first',
    (status) => {
      expect(
        plan(
          ALL_KINDS.map((kind) => leftover(kind)),
          stopped(status),
        ),
      ).toEqual([
        ['test-instance', 'remove', 'leftover'],
        ['build-instance', 'remove', 'leftover'],
        ['image', 'remove', 'leftover'],
        ['security-group', 'remove', 'leftover'],
        ['key-pair', 'remove', 'leftover'],
      ]);
    },
  );

  it.each(['RUNNING', 'PENDING_REDRIVE'] as const)('keeps everything of a %s execution', (status) => {
    const decisions = plan(
      ALL_KINDS.map((kind) => leftover(kind)),
      { status },
    );
    expect(decisions.every(([, action, reason]) => action === 'keep' && reason === 'execution-running')).toBe(
      true,
    );
  });

  it('keeps what it cannot tell: an execution whose status could not be read', () => {
    const decisions = plan([leftover('build-instance')], { status: 'UNKNOWN' });
    expect(decisions).toEqual([['build-instance', 'keep', 'execution-unknown']]);
    // An execution missing from the facts counts as unknown too
    expect(
      planSweep({
        resources: ownedLeftovers([leftover('image')], SCOPE),
        executions: new Map(),
        now: NOW,
        graceMinutes: 30,
      })[0],
    ).toMatchObject({ action: 'keep', reason: 'execution-unknown' });
  });

  it('counts the grace period from creation: 29 min kept, exactly 30 min removed', () => {
    const young = leftover('build-instance', { createdAt: minutesAgo(29) });
    const due = leftover('test-instance', { createdAt: minutesAgo(30) });
    expect(plan([young, due], stopped('ABORTED', 1))).toEqual([
      ['test-instance', 'remove', 'leftover'],
      ['build-instance', 'keep', 'within-grace'],
    ]);
  });

  it('counts a security group’s grace (no creation time) from its execution’s stop', () => {
    const group = leftover('security-group');
    expect(plan([group], stopped('ABORTED', 10))).toEqual([['security-group', 'keep', 'within-grace']]);
    expect(plan([group], stopped('ABORTED', 31))).toEqual([['security-group', 'remove', 'leftover']]);
    // An undatable resource whose execution still exists but has no stop date is kept
    expect(plan([group], { status: 'ABORTED' })).toEqual([['security-group', 'keep', 'within-grace']]);
    // An execution that no longer exists ended at least 90 days ago
    expect(plan([group], { status: 'NOT_FOUND' })).toEqual([['security-group', 'remove', 'leftover']]);
  });

  it('keeps an undatable creation time (never remove what cannot be dated)', () => {
    expect(plan([leftover('image', { createdAt: 'yesterday' })], stopped('FAILED'))).toEqual([
      ['image', 'keep', 'within-grace'],
    ]);
  });

  it('never removes a protected candidate, or one a parameter names (half-applied promotion)', () => {
    const image = leftover('image');
    expect(plan([leftover('image', {}, { 'factory:protected': 'true' })], stopped('FAILED'))).toEqual([
      ['image', 'keep', 'protected'],
    ]);
    expect(plan([image], stopped('FAILED'), { referencedImageIds: [image.id] })).toEqual([
      ['image', 'keep', 'referenced'],
    ]);
  });

  it('grace 0 removes at once; a negative or non-numeric grace is refused', () => {
    expect(
      plan([leftover('build-instance', { createdAt: NOW.toISOString() })], stopped('ABORTED', 0), {
        graceMinutes: 0,
      }),
    ).toEqual([['build-instance', 'remove', 'leftover']]);
    expect(() => plan([], stopped('ABORTED'), { graceMinutes: -1 })).toThrow(RangeError);
    expect(() => plan([], stopped('ABORTED'), { graceMinutes: Number.NaN })).toThrow(RangeError);
  });

  it('decides per execution: one aborted build swept, a running one untouched', () => {
    const otherName = 'web-stable-ami-0aaaaaaaaaaaaaaaa-7654321-cafebabe';
    const otherArn = executionArnOf(STATE_MACHINE, otherName);
    const running = leftover(
      'test-instance',
      { id: 'i-0000000000000000r' },
      {
        'factory:execution': otherName,
        'factory:build-id': buildId({ pipeline: 'web', executionArn: otherArn }),
      },
    );
    const decisions = planSweep({
      resources: ownedLeftovers([leftover('test-instance'), running], SCOPE),
      executions: new Map([
        [ARN, stopped('ABORTED')],
        [otherArn, { status: 'RUNNING' }],
      ]),
      now: NOW,
      graceMinutes: 30,
    });
    expect(decisions.map((d) => [d.resource.id, d.action])).toEqual([
      ['i-0000000000000000r', 'keep'],
      ['i-0000000000000000t', 'remove'],
    ]);
  });
});
