import { describe, expect, it } from 'vitest';
import { buildId, executionArnOf } from '#commons/core/build-key.js';
import type { Leftover, LeftoverKind } from '#commons/core/sweep.js';
import { sweepLeftovers, sweepNotification } from '#commons/steps/sweep-leftovers.js';
import {
  MemoryExecutions,
  MemoryImageStore,
  MemoryLeftoverStore,
  RecordingNotifier,
} from '../helpers/fakes.js';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:golden-image-factory-prod';
const NOW = new Date('2026-06-30T12:00:00.000Z');
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();
const ARN = executionArnOf(STATE_MACHINE, 'web-aborted');
const RUNNING_ARN = executionArnOf(STATE_MACHINE, 'web-running');

const resource = (kind: LeftoverKind, id: string, arn = ARN, extra: Partial<Leftover> = {}): Leftover => ({
  kind,
  id,
  name: kind === 'security-group' || kind === 'key-pair' ? `packer_${id}` : id,
  createdAt: kind === 'security-group' ? undefined : ago(120),
  tags: {
    'factory:stage': 'prod',
    'factory:pipeline': 'web',
    'factory:build-id': buildId({ pipeline: 'web', executionArn: arn }),
    'factory:execution': arn.split(':').at(-1) as string,
    ...(kind === 'image'
      ? { 'factory:channel': 'candidate' }
      : { 'factory:role': kind === 'test-instance' ? 'test-instance' : 'build-instance' }),
  },
  ...extra,
});
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

const setup = (resources: Leftover[]) => {
  const leftovers = new MemoryLeftoverStore(resources);
  const executions = new MemoryExecutions(
    new Map([
      [ARN, { status: 'ABORTED' as const, stoppedAt: ago(90) }],
      [RUNNING_ARN, { status: 'RUNNING' as const }],
    ]),
  );
  const images = new MemoryImageStore();
  const notifier = new RecordingNotifier();
  const slept: number[] = [];
  const options = {
    scope: { stage: 'prod', stateMachineArn: STATE_MACHINE, pipelines: ['web'] },
    graceMinutes: 30,
    dryRun: false,
    now: () => NOW,
    sleep: async (ms: number) => {
      slept.push(ms);
    },
  };
  return {
    leftovers,
    executions,
    images,
    notifier,
    slept,
    options,
    ports: { leftovers, executions, images, notifier },
  };
};

const BAKE_ABORTED = [
  resource('build-instance', 'i-0b'),
  resource('security-group', 'sg-0s'),
  resource('key-pair', 'k0'),
  resource('image', 'ami-0c', ARN, { snapshotIds: ['snap-0c'] }),
];

describe('sweepLeftovers', () => {
  it('removes an aborted build’s leftovers in order, reads its execution once, reports once', async () => {
    // Prepare
    const s = setup([...BAKE_ABORTED, resource('test-instance', 'i-0r', RUNNING_ARN)]);

    // Act
    const report = await sweepLeftovers({}, s.ports, s.options);

    // Assess
    expect(s.leftovers.removed).toEqual(['i-0b', 'ami-0c', 'sg-0s', 'k0']);
    expect(s.leftovers.resources.map((r) => r.id)).toEqual(['i-0r']);
    expect(s.executions.asked.sort()).toEqual([ARN, RUNNING_ARN].sort());
    expect(report.found).toEqual({
      'test-instance': 1,
      'build-instance': 1,
      image: 1,
      'security-group': 1,
      'key-pair': 1,
    });
    expect(report.removed).toEqual({
      'test-instance': 0,
      'build-instance': 1,
      image: 1,
      'security-group': 1,
      'key-pair': 1,
    });
    expect(report.outcomes.find((o) => o.kind === 'image')).toMatchObject({
      outcome: 'removed',
      snapshots: [{ snapshotId: 'snap-0c', outcome: 'deleted' }],
      execution: 'web-aborted',
    });
    expect(report.notification).toBe('sent');
    expect(s.notifier.sent).toHaveLength(1);
    expect(s.notifier.sent[0]?.title).toBe('sweeper: removed 4 leftover(s) of 1 build(s)');
  });

  it('dry run (per invocation): plans, removes nothing, says so', async () => {
    const s = setup(BAKE_ABORTED);
    const report = await sweepLeftovers({ dryRun: true }, s.ports, s.options);

    expect(s.leftovers.removed).toEqual([]);
    expect(report.dryRun).toBe(true);
    expect(report.outcomes.map((o) => o.outcome)).toEqual(['planned', 'planned', 'planned', 'planned']);
    expect(s.notifier.sent[0]?.title).toBe('sweeper (dry run): would remove 4 leftover(s) of 1 build(s)');
  });

  it('retries a security group still in use, then defers it to the next run', async () => {
    const s = setup(BAKE_ABORTED);
    s.leftovers.failures.set('sg-0s', [named('DependencyViolation'), named('DependencyViolation')]);
    const report = await sweepLeftovers({}, s.ports, {
      ...s.options,
      dependencyAttempts: 3,
      dependencyDelayMs: 5,
    });

    expect(report.outcomes.find((o) => o.kind === 'security-group')?.outcome).toBe('removed');
    expect(s.slept).toEqual([5, 5]);

    const t = setup(BAKE_ABORTED);
    t.leftovers.failures.set(
      'sg-0s',
      [1, 2, 3].map(() => named('DependencyViolation')),
    );
    const deferred = await sweepLeftovers({}, t.ports, {
      ...t.options,
      dependencyAttempts: 3,
      dependencyDelayMs: 5,
    });
    expect(deferred.outcomes.find((o) => o.kind === 'security-group')).toMatchObject({
      outcome: 'deferred',
      error: expect.stringContaining('DependencyViolation'),
    });
    expect(deferred.deferred).toBe(1);
    expect(t.notifier.sent[0]?.outcome).toBe('failure');
  });

  it('reports a failed removal and goes on with the others', async () => {
    const s = setup(BAKE_ABORTED);
    s.leftovers.failures.set('i-0b', [named('UnauthorizedOperation')]);
    const report = await sweepLeftovers({}, s.ports, s.options);

    expect(report.failed).toBe(1);
    expect(report.outcomes.find((o) => o.id === 'i-0b')).toMatchObject({
      outcome: 'failed',
      error: 'UnauthorizedOperation: UnauthorizedOperation',
    });
    expect(s.leftovers.removed).toEqual(['ami-0c', 'sg-0s', 'k0']);
  });

  it('keeps everything of an execution whose status cannot be read', async () => {
    const s = setup(BAKE_ABORTED);
    s.executions.facts.set(ARN, named('ThrottlingException'));
    const report = await sweepLeftovers({}, s.ports, s.options);

    expect(s.leftovers.removed).toEqual([]);
    expect(new Set(report.outcomes.map((o) => o.reason))).toEqual(new Set(['execution-unknown']));
    expect(report.notification).toBe('skipped');
  });

  it('keeps a candidate a parameter names', async () => {
    const s = setup(BAKE_ABORTED);
    s.images.referencedByParameters = ['ami-0c'];
    const report = await sweepLeftovers({}, s.ports, s.options);
    expect(report.outcomes.find((o) => o.kind === 'image')).toMatchObject({
      outcome: 'kept',
      reason: 'referenced',
    });
  });

  it('stops starting removals when the time budget is spent', async () => {
    const s = setup(BAKE_ABORTED);
    let left = 40_000;
    const report = await sweepLeftovers({}, s.ports, {
      ...s.options,
      reserveMs: 30_000,
      remainingMs: () => {
        left -= 5_000;
        return left;
      },
    });
    expect(report.outcomes.map((o) => o.outcome)).toEqual(['removed', 'deferred', 'deferred', 'deferred']);
  });

  it('counts an already removed resource as done', async () => {
    const s = setup(BAKE_ABORTED);
    s.leftovers.list = async () => structuredClone([...BAKE_ABORTED, resource('key-pair', 'k-gone')]);
    const report = await sweepLeftovers({}, s.ports, s.options);
    expect(report.outcomes.find((o) => o.id === 'k-gone')?.outcome).toBe('gone');
    expect(report.removed['key-pair']).toBe(2);
  });

  it('a Slack outage is recorded, never fails the sweep', async () => {
    const s = setup(BAKE_ABORTED);
    s.notifier.notify = async () => {
      throw named('SlackDeliveryFailed', 'HTTP 500');
    };
    const report = await sweepLeftovers({}, s.ports, s.options);
    expect(report.notification).toBe('failed: SlackDeliveryFailed: HTTP 500');
    expect(s.leftovers.removed).toHaveLength(4);
  });

  it('sends nothing when there was nothing to do', async () => {
    const s = setup([resource('test-instance', 'i-0r', RUNNING_ARN)]);
    const report = await sweepLeftovers({}, s.ports, s.options);
    expect(report.notification).toBe('skipped');
    expect(s.notifier.sent).toEqual([]);
  });
});

describe('sweepNotification', () => {
  it('lists each resource acted on with its build and execution', async () => {
    const s = setup(BAKE_ABORTED);
    const report = await sweepLeftovers({}, { ...s.ports, notifier: undefined }, s.options);
    const notification = sweepNotification(report);

    expect(notification.fields).toEqual([
      { label: 'Builder instances', value: '1 of 1 removed' },
      { label: 'Candidate images', value: '1 of 1 removed' },
      { label: 'Security groups', value: '1 of 1 removed' },
      { label: 'Key pairs', value: '1 of 1 removed' },
    ]);
    expect(notification.detail?.split('\n')).toHaveLength(4);
    expect(notification.detail).toContain('removed  security-group sg-0s (packer_sg-0s) — web build web-');
    expect(notification.detail).toContain('execution web-aborted');
  });
});
