/**
 * Static checks of `statemachines/image-factory.asl.yaml`: valid ASL (asl-validator, the same
 * validator serverless-step-functions runs with `validate: true`), the names fixed by
 * docs/design.md, and the bounds every Task and poll loop must have.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PROMOTION_LEASE_TTL_SECONDS } from '#commons/core/promotion-lease.js';
import {
  allStates,
  DEFINITION_PATH,
  lambdaFunctionKeys,
  loadDefinition,
  pollLoops,
  readRawDefinition,
} from '#statemachines/definition.js';

type State = Record<string, unknown> & { Type: string };
type Retrier = { ErrorEquals: string[]; BackoffRate?: number; JitterStrategy?: string; MaxAttempts?: number };
type Catcher = { ErrorEquals: string[]; ResultPath?: string | null; Next: string };

const STANDARD_LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** State → [Type, ResultPath] from the design table (docs/design.md "State machine"). */
const DESIGN: Record<string, [string, string | null | undefined]> = {
  PrepareBuild: ['Task', '$.build'],
  BakeImage: ['Task', '$.bake'],
  FindCandidateImage: ['Task', '$.candidate'],
  InspectCandidate: ['Task', '$.inspection'],
  IsVulnerabilityGatePassed: ['Choice', undefined],
  VulnerabilityGateFailed: ['Pass', undefined],
  LaunchTestInstance: ['Task', '$.testInstance'],
  WaitForInstanceBoot: ['Wait', undefined],
  CheckInstanceOnline: ['Task', '$.online'],
  IsInstanceOnline: ['Choice', undefined],
  WaitForInstanceOnline: ['Wait', undefined],
  ProbeTestInstance: ['Task', '$.probe'],
  WaitForProbe: ['Wait', undefined],
  IsProbeComplete: ['Choice', undefined],
  CheckProbeResult: ['Task', '$.probeResult'],
  TerminateTestInstance: ['Task', '$.termination'],
  DistributeImage: ['Map', '$.regionOutcomes'],
  CheckDistribution: ['Task', '$.distributionVerdict'],
  AcquirePromotionLease: ['Task', '$.promotionLease'],
  PromoteImage: ['Task', '$.promotion'],
  ReleasePromotionLease: ['Task', '$.promotionLeaseRelease'],
  IsPromoted: ['Choice', undefined],
  ApplyRetention: ['Task', '$.retention'],
  RetentionIncomplete: ['Pass', undefined],
  IsRolloutConfigured: ['Choice', undefined],
  RolloutChannel: ['Task', '$.rollout'],
  RolloutIncomplete: ['Pass', undefined],
  NotifySuccess: ['Task', null],
  PipelineSucceeded: ['Succeed', undefined],
  CleanupAfterFailure: ['Task', '$.cleanup'],
  NotifyFailure: ['Task', null],
  IsIncidentConfigured: ['Choice', undefined],
  OpenIncident: ['Task', '$.incident'],
  PipelineFailed: ['Fail', undefined],
};

/** Pass states that turn an exhausted poll into the error a Catch would have recorded. */
const POLL_FAILURES = ['InstanceNeverOnline', 'ProbeFailed', 'ProbeTimedOut'];

const raw = readRawDefinition();
/** Top-level states. */
const top = raw.States as Record<string, State>;
/** Every state, the DistributeImage Map's included (names are unique across the definition). */
const states = allStates(top) as Record<string, State>;
const tasks = Object.entries(top).filter(([, state]) => state.Type === 'Task');
/** The Map's iteration: one region of the distribution. */
const regionStates = (top.DistributeImage as State & { ItemProcessor: { States: Record<string, State> } })
  .ItemProcessor.States;
const lambdaTasks = Object.keys(lambdaFunctionKeys());

const kebab = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

describe('image-factory.asl.yaml', () => {
  it('is valid ASL as written for serverless (intrinsic functions in place)', () => {
    // Act
    const result = aslValidator(structuredClone(raw));

    // Assess
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('is valid ASL once resolved for local execution (placeholder ARNs)', () => {
    const result = aslValidator(structuredClone(loadDefinition()));

    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('is a JSONPath definition starting at PrepareBuild', () => {
    expect(raw.StartAt).toBe('PrepareBuild');
    expect(raw.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  it('has exactly the design states plus the poll-failure Pass states', () => {
    expect(Object.keys(top).sort()).toEqual([...Object.keys(DESIGN), ...POLL_FAILURES].sort());
    for (const name of POLL_FAILURES) {
      expect(states[name]).toMatchObject({
        Type: 'Pass',
        ResultPath: '$.error',
        Next: 'CleanupAfterFailure',
      });
    }
  });

  it.each(Object.entries(DESIGN))('%s has the design type and ResultPath', (name, [type, resultPath]) => {
    const state = states[name];

    expect(state?.Type).toBe(type);
    if (type === 'Task' || type === 'Map') expect(state?.ResultPath).toBe(resultPath);
  });

  it('distributes every region of the build at once, each iteration reporting instead of failing the Map', () => {
    const map = top.DistributeImage as State & Record<string, unknown>;

    expect(map).toMatchObject({
      ItemsPath: '$.build.distribution.regions',
      ItemSelector: { 'build.$': '$.build', 'candidate.$': '$.candidate', 'target.$': '$$.Map.Item.Value' },
      MaxConcurrency: 0,
      Next: 'CheckDistribution',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'CleanupAfterFailure' }],
    });
    expect(Object.keys(regionStates).sort()).toEqual(
      [
        'CheckRegionCopy',
        'CopyImageToRegion',
        'IsRegionCopyAvailable',
        'RegionCopyTimedOut',
        'RegionFailed',
        'ShareRegionCopy',
        'WaitForRegionCopy',
      ].sort(),
    );
    for (const name of ['CopyImageToRegion', 'CheckRegionCopy', 'ShareRegionCopy']) {
      expect(regionStates[name]?.Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RegionFailed' },
      ]);
      expect(regionStates[name]?.TimeoutSeconds, name).toBeGreaterThan(0);
    }
    expect(regionStates.RegionFailed).toEqual({
      Type: 'Pass',
      Parameters: { 'region.$': '$.target.region', outcome: 'failed', 'error.$': '$.error' },
      End: true,
    });
    expect(regionStates.ShareRegionCopy?.End).toBe(true);
    expect(regionStates.ShareRegionCopy?.ResultPath).toBeUndefined();
    // The copy wait is bounded: 120 looks, 30 s apart.
    expect(JSON.stringify(regionStates.IsRegionCopyAvailable)).toContain(
      '"Variable":"$.copyCheck.attempt","NumericGreaterThanEquals":120',
    );
    expect(regionStates.WaitForRegionCopy).toEqual({ Type: 'Wait', Seconds: 30, Next: 'CheckRegionCopy' });
  });

  it('names every Lambda task after its handler file (PrepareBuild → prepare-build)', () => {
    const keys = lambdaFunctionKeys();

    expect(Object.keys(keys)).toHaveLength(21);
    for (const [state, key] of Object.entries(keys)) expect(key).toBe(kebab(state));
  });

  it('runs BakeImage as a bounded Fargate runTask.sync with the build in the container environment', () => {
    const bake = states.BakeImage as State & { Parameters: Record<string, unknown> };
    const loaded = loadDefinition().States.BakeImage as unknown as typeof bake;
    const container = (loaded.Parameters.Overrides as { ContainerOverrides: Record<string, unknown>[] })
      .ContainerOverrides[0];

    expect(bake.Resource).toBe('arn:aws:states:::ecs:runTask.sync');
    expect(bake.Parameters.LaunchType).toBe('FARGATE');
    expect(bake.TimeoutSeconds).toBe(5400);
    expect(container?.Environment).toEqual([
      { Name: 'BASE_IMAGE', 'Value.$': '$.build.baseImage' },
      { Name: 'SOURCE_AMI_ID', 'Value.$': '$.build.sourceImageId' },
      { Name: 'BUILD_ID', 'Value.$': '$.build.buildId' },
      { Name: 'PIPELINE', 'Value.$': '$.build.pipeline' },
      { Name: 'CHANNEL', 'Value.$': '$.build.channel' },
      { Name: 'EXECUTION_NAME', 'Value.$': '$.build.executionName' },
      { Name: 'KMS_KEY_ID', 'Value.$': '$.build.distribution.bakeKmsKeyId' },
      { Name: 'BUILD_JSON', 'Value.$': 'States.JsonToString($.build)' },
    ]);
  });

  it('passes no Parameters to Lambda tasks except PrepareBuild (request + Context Object execution)', () => {
    for (const name of lambdaTasks.filter((task) => task !== 'PrepareBuild')) {
      expect(states[name]?.Parameters, name).toBeUndefined();
    }
    expect(states.PrepareBuild?.Parameters).toEqual({ 'input.$': '$', 'execution.$': '$$.Execution' });
  });

  it.each(tasks)('Task %s has a TimeoutSeconds bound', (_name, state) => {
    expect(state.TimeoutSeconds).toEqual(expect.any(Number));
    expect(state.TimeoutSeconds as number).toBeGreaterThan(0);
  });

  it.each(lambdaTasks)(
    'Lambda task %s retries the transient Lambda errors with backoff 2 and full jitter',
    (name) => {
      const retriers = (states[name]?.Retry ?? []) as Retrier[];
      const standard = retriers.find((retrier) => retrier.ErrorEquals.includes('Lambda.ServiceException'));

      expect(standard?.ErrorEquals).toEqual(STANDARD_LAMBDA_ERRORS);
      expect(standard).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
      expect(standard?.MaxAttempts).toBeGreaterThan(0);
    },
  );

  it('writes the standard Lambda retrier once: every Lambda task starts with the same one', () => {
    const text = readFileSync(DEFINITION_PATH, 'utf8');
    const firstRetrier = (name: string) => (states[name]?.Retry as Retrier[] | undefined)?.[0];
    const standard = firstRetrier('PrepareBuild');

    expect(text.match(/Lambda\.TooManyRequestsException/g)).toHaveLength(1);
    expect(standard?.ErrorEquals).toEqual(STANDARD_LAMBDA_ERRORS);
    for (const name of lambdaTasks) expect(firstRetrier(name), name).toEqual(standard);
  });

  it('retries InvocationDoesNotExist on CheckProbeResult a bounded number of times', () => {
    const retriers = states.CheckProbeResult?.Retry as Retrier[];

    expect(retriers.find((retrier) => retrier.ErrorEquals.includes('InvocationDoesNotExist'))).toMatchObject({
      MaxAttempts: 5,
      BackoffRate: 2,
      JitterStrategy: 'FULL',
    });
  });

  it.each(
    tasks.filter(
      ([name]) =>
        ![
          'ReleasePromotionLease',
          'ApplyRetention',
          'RolloutChannel',
          'NotifySuccess',
          'CleanupAfterFailure',
          'NotifyFailure',
          'OpenIncident',
        ].includes(name),
    ),
  )('Task %s catches States.ALL into CleanupAfterFailure keeping its input at $.error', (_name, state) => {
    expect(state.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'CleanupAfterFailure' },
    ]);
  });

  it('retries EventPublishFailed on PromoteImage and NotifyFailure (idempotent steps), a bounded number of times', () => {
    for (const name of ['PromoteImage', 'NotifyFailure']) {
      const retriers = states[name]?.Retry as Retrier[];
      const publish = retriers.find((retrier) => retrier.ErrorEquals.includes('EventPublishFailed'));

      expect(publish?.ErrorEquals, name).toEqual(['EventPublishFailed']);
      expect(publish, name).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
      expect(publish?.MaxAttempts, name).toBeGreaterThan(0);
      expect(publish?.MaxAttempts, name).toBeLessThanOrEqual(5);
    }
  });

  it('waits for the promotion lease with bounded backoff that outlasts the lease TTL', () => {
    const retriers = states.AcquirePromotionLease?.Retry as Array<
      Retrier & { IntervalSeconds: number; MaxDelaySeconds?: number }
    >;
    const held = retriers.find((retrier) => retrier.ErrorEquals.includes('PromotionLeaseHeld'));
    // Step Functions waits IntervalSeconds × BackoffRate^(n-1), capped at MaxDelaySeconds, before
    // retry n (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
    // No jitter on this retrier: the sum is the real wait, not an upper bound.
    const waits = Array.from({ length: held?.MaxAttempts ?? 0 }, (_, n) =>
      Math.min(
        held?.MaxDelaySeconds ?? Number.POSITIVE_INFINITY,
        (held?.IntervalSeconds ?? 0) * (held?.BackoffRate ?? 1) ** n,
      ),
    );
    const total = waits.reduce((sum, wait) => sum + wait, 0);

    expect(held?.ErrorEquals).toEqual(['PromotionLeaseHeld']);
    expect(held?.JitterStrategy).toBeUndefined();
    expect(held?.MaxAttempts).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(PROMOTION_LEASE_TTL_SECONDS);
    expect(total).toBeLessThan(2 * PROMOTION_LEASE_TTL_SECONDS);
  });

  it('releases the lease after PromoteImage whatever it returned; a failed release does not fail the build', () => {
    expect(states.PromoteImage?.Next).toBe('ReleasePromotionLease');
    expect(states.ReleasePromotionLease?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.promotionLeaseReleaseError', Next: 'IsPromoted' },
    ]);
    expect(states.ReleasePromotionLease?.Next).toBe('IsPromoted');
    expect(states.IsPromoted).toEqual({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.promotion.outcome', IsPresent: true },
            { Variable: '$.promotion.outcome', StringEquals: 'superseded' },
          ],
          Next: 'NotifySuccess',
        },
      ],
      Default: 'ApplyRetention',
    });
  });

  it('ApplyRetention runs after promotion: any failure becomes a partial report, never a failed build', () => {
    expect(states.ApplyRetention?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.retentionError', Next: 'RetentionIncomplete' },
    ]);
    expect(states.RetentionIncomplete).toMatchObject({
      Type: 'Pass',
      ResultPath: '$.retention',
      Next: 'IsRolloutConfigured',
      Parameters: { outcome: 'partial', 'error.$': '$.retentionError' },
    });
    expect(states.ApplyRetention?.Next).toBe('IsRolloutConfigured');
  });

  it('RolloutChannel runs after retention only for a channel with a rollout; any failure is a warning, never a failed build', () => {
    expect(states.IsRolloutConfigured).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.build.rollout', IsPresent: true, Next: 'RolloutChannel' }],
      Default: 'NotifySuccess',
    });
    expect(states.RolloutChannel).toMatchObject({ TimeoutSeconds: 120, Next: 'NotifySuccess' });
    expect(states.RolloutChannel?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.rolloutError', Next: 'RolloutIncomplete' },
    ]);
    expect(states.RolloutIncomplete).toMatchObject({
      Type: 'Pass',
      ResultPath: '$.rollout',
      Next: 'NotifySuccess',
      Parameters: { outcome: 'partial', 'error.$': '$.rolloutError' },
    });
    // Never on the superseded path: IsPromoted sends a superseded build straight to NotifySuccess.
    const reachesRollout = Object.entries(states).filter(([, state]) =>
      JSON.stringify(state).includes('"IsRolloutConfigured"'),
    );
    expect(reachesRollout.map(([name]) => name).sort()).toEqual(['ApplyRetention', 'RetentionIncomplete']);
  });

  it.each([
    ['NotifySuccess', 'PipelineSucceeded', '$.notificationError'],
    ['CleanupAfterFailure', 'NotifyFailure', '$.cleanup'],
    ['NotifyFailure', 'IsIncidentConfigured', '$.notificationError'],
    ['OpenIncident', 'PipelineFailed', '$.incidentError'],
  ])('tail task %s catches everything and continues to %s without touching $.error', (name, next, path) => {
    const catchers = states[name]?.Catch as Catcher[];

    expect(catchers).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: path, Next: next }]);
    expect(states[name]?.Next).toBe(next);
  });

  it.each([
    ['IsInstanceOnline', '$.online.attempt', 'InstanceNeverOnline', 'WaitForInstanceOnline'],
    ['IsProbeComplete', '$.probeResult.attempt', 'ProbeTimedOut', 'WaitForProbe'],
  ])('poll %s stops on %s before looping', (name, variable, exhausted, wait) => {
    const text = JSON.stringify(states[name]);

    expect(text).toContain(`"Variable":"${variable}","NumericGreaterThanEquals"`);
    expect(text).toContain(`"Next":"${exhausted}"`);
    expect(states[name]?.Default).toBe(wait);
  });

  it('fails with the recorded error and cause', () => {
    expect(states.PipelineFailed).toEqual({
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
  });

  it('has no execution-level timeout (it would skip the cleanup)', () => {
    expect(raw.TimeoutSeconds).toBeUndefined();
  });
});

describe('pollLoops', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'poll-loops-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** Writes a definition with the given states (plus a Succeed) and reads its poll loops. */
  const loopsOf = (extra: Record<string, unknown>) => {
    const path = join(scratch, `definition-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, stringify({ StartAt: 'Start', States: { ...extra, Done: { Type: 'Succeed' } } }));
    return () => pollLoops(path);
  };
  const check = { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Next: 'IsDone' };
  const choice = {
    Type: 'Choice',
    Choices: [
      { Variable: '$.check.done', BooleanEquals: true, Next: 'Done' },
      { Variable: '$.check.attempt', NumericGreaterThanEquals: 7, Next: 'Done' },
    ],
    Default: 'Again',
  };

  it('reads both loops of the pipeline with their waits and bounds from the ASL', () => {
    const loops = pollLoops();

    expect(Object.keys(loops).sort()).toEqual(['CheckInstanceOnline', 'CheckProbeResult']);
    expect(loops.CheckInstanceOnline).toEqual({
      check: 'CheckInstanceOnline',
      choice: 'IsInstanceOnline',
      wait: 'WaitForInstanceOnline',
      waitSeconds: states.WaitForInstanceOnline?.Seconds,
      entry: 'LaunchTestInstance',
      firstWait: 'WaitForInstanceBoot',
      firstWaitSeconds: states.WaitForInstanceBoot?.Seconds,
      attemptPath: '$.online.attempt',
      maxAttempts: expect.any(Number),
    });
    expect(loops.CheckProbeResult).toMatchObject({
      entry: 'ProbeTestInstance',
      wait: 'WaitForProbe',
      firstWait: 'WaitForProbe',
      firstWaitSeconds: states.WaitForProbe?.Seconds,
      attemptPath: '$.probeResult.attempt',
    });
    for (const [name, loop] of Object.entries(loops)) {
      expect(JSON.stringify(states[loop.choice]), name).toContain(
        `"NumericGreaterThanEquals":${loop.maxAttempts}`,
      );
    }
  });

  it('waits before the first online check, for less time than the loop takes to give up', () => {
    const online = pollLoops().CheckInstanceOnline;

    expect(states.LaunchTestInstance?.Next).toBe('WaitForInstanceBoot');
    expect(states.WaitForInstanceBoot?.Next).toBe('CheckInstanceOnline');
    expect(online?.firstWaitSeconds).toBeGreaterThan(0);
    expect(online?.firstWaitSeconds).toBeLessThan((online?.waitSeconds ?? 0) * (online?.maxAttempts ?? 0));
  });

  it('reads a loop entered straight at its check (no first wait)', () => {
    const read = loopsOf({
      Start: { Type: 'Pass', Next: 'Check' },
      Check: check,
      IsDone: choice,
      Again: { Type: 'Wait', Seconds: 4, Next: 'Check' },
    });

    expect(read().Check).toMatchObject({
      entry: 'Start',
      firstWait: undefined,
      firstWaitSeconds: 0,
      maxAttempts: 7,
    });
  });

  it.each([
    [
      'a Default that does not lead back to the check',
      {
        Start: { Type: 'Pass', Next: 'Check' },
        Check: check,
        IsDone: choice,
        Again: { Type: 'Wait', Seconds: 4, Next: 'Done' },
      },
      'does not lead back',
    ],
    [
      'a loop wait without fixed Seconds',
      {
        Start: { Type: 'Pass', Next: 'Check' },
        Check: check,
        IsDone: choice,
        Again: { Type: 'Wait', SecondsPath: '$.wait', Next: 'Check' },
      },
      'not a Wait state with a fixed Seconds',
    ],
    [
      'two states entering the loop',
      {
        Start: { Type: 'Pass', Next: 'Other' },
        Other: { Type: 'Pass', Next: 'Check' },
        Elsewhere: { Type: 'Pass', Next: 'Again' },
        Check: check,
        IsDone: choice,
        Again: { Type: 'Wait', Seconds: 4, Next: 'Check' },
      },
      'no single state enters the loop',
    ],
  ])('refuses %s with a clear error', (_case, extra, message) => {
    expect(loopsOf(extra)).toThrow(message);
  });
});
