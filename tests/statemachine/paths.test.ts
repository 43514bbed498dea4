/**
 * Path matrix of the pipeline: the ASL executed by aws-local-stepfunctions with recording test
 * doubles in place of AWS (see harness.ts). Each case asserts the states visited, that a launched
 * test instance is always terminated or cleaned up, and the final status.
 */
import { describe, expect, it } from 'vitest';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import { findCandidateImage } from '#commons/steps/find-candidate-image.js';
import { pollLoops } from '#statemachines/definition.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryLauncher,
  MemoryPromotionLedger,
  ScriptedScanner,
} from '../unit/helpers/fakes.js';
import {
  BUILD_ID,
  CANDIDATE_IMAGE_ID,
  CANDIDATE_SBOM,
  CURRENT_IMAGE_ID,
  DISTRIBUTION,
  EXECUTION,
  FINDINGS_SCAN,
  happyPath,
  inputOf,
  inspectWith,
  type Json,
  leavesNoTestInstance,
  namedError,
  type PipelineRun,
  retriesOf,
  runPipeline,
  type TaskDouble,
  type TaskName,
} from './harness.js';

/** Poll bounds and waits, as the ASL defines them (the one place they are written). */
const { CheckInstanceOnline: ONLINE, CheckProbeResult: PROBE } = pollLoops();

const SUCCESS_PATH = [
  'PrepareBuild',
  'BakeImage',
  'FindCandidateImage',
  'InspectCandidate',
  'IsVulnerabilityGatePassed',
  'LaunchTestInstance',
  'WaitForInstanceBoot',
  'CheckInstanceOnline',
  'IsInstanceOnline',
  'WaitForInstanceOnline',
  'CheckInstanceOnline',
  'IsInstanceOnline',
  'ProbeTestInstance',
  'WaitForProbe',
  'CheckProbeResult',
  'IsProbeComplete',
  'WaitForProbe',
  'CheckProbeResult',
  'IsProbeComplete',
  'TerminateTestInstance',
  'DistributeImage',
  'CheckDistribution',
  'AcquirePromotionLease',
  'PromoteImage',
  'ReleasePromotionLease',
  'IsPromoted',
  'ApplyRetention',
  'IsRolloutConfigured',
  'NotifySuccess',
  'PipelineSucceeded',
];

/** The promotion part of the success path, from taking the lease to the choice after it. */
const PROMOTION = ['AcquirePromotionLease', 'PromoteImage', 'ReleasePromotionLease', 'IsPromoted'];

const SUPERSEDED: TaskDouble = () => ({
  outcome: 'superseded',
  channel: 'stable',
  imageId: 'ami-0c0ffee0c0ffee001',
  previousImageId: null,
  currentImageId: 'ami-0d0d0d0d0d0d0d0d0',
  reason: 'current image ami-0d0d0d0d0d0d0d0d0 is not older than this build',
  parameterName: '/image-factory/web/stable',
  parameterVersion: 9,
});

const FAILURE_TAIL = ['CleanupAfterFailure', 'NotifyFailure', 'IsIncidentConfigured', 'PipelineFailed'];

const throwing =
  (name: string, message?: string): TaskDouble =>
  () => {
    throw namedError(name, message);
  };

/** Fails with `name` on the first `times` invocations, then behaves like `then`. */
const failingFirst =
  (times: number, name: string, then: TaskDouble): TaskDouble =>
  (input, call) => {
    if (call <= times) throw namedError(name);
    return then(input, call);
  };

function expectFailedWith(run: PipelineRun, error: string): void {
  expect(run.status).toBe('FAILED');
  expect(run.error?.Error).toBe(error);
  expect(run.visited.slice(-FAILURE_TAIL.length)).toEqual(FAILURE_TAIL);
  expect(inputOf(run, 'CleanupAfterFailure').error).toMatchObject({ Error: error });
  expect(inputOf(run, 'NotifyFailure').error).toMatchObject({ Error: error });
  expect(leavesNoTestInstance(run)).toBe(true);
}

describe('pipeline paths', () => {
  it('success: bakes, probes, terminates the test instance, promotes, applies retention, notifies', async () => {
    // Act
    const run = await runPipeline();

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited).toEqual(SUCCESS_PATH);
    expect(run.visited).not.toContain('CleanupAfterFailure');
    expect(leavesNoTestInstance(run)).toBe(true);
    expect(run.output).toMatchObject({
      pipeline: 'web',
      build: { buildId: BUILD_ID },
      bake: { lastStatus: 'STOPPED' },
      candidate: { imageId: 'ami-0c0ffee0c0ffee001' },
      testInstance: { instanceId: 'i-0feedface0000001' },
      online: { online: true, attempt: 2 },
      probeResult: { status: 'Success', attempt: 2 },
      promotion: { parameterName: '/image-factory/web/stable' },
      retention: { dryRun: false },
    });
    expect(run.output).not.toHaveProperty('error');
  });

  it('success: hands the build to the Packer container and keeps only the task identity', async () => {
    const run = await runPipeline();
    const request = inputOf(run, 'BakeImage');

    expect(request).toMatchObject({
      LaunchType: 'FARGATE',
      Overrides: {
        ContainerOverrides: [
          {
            Name: 'packer',
            Environment: [
              { Name: 'BASE_IMAGE', Value: 'ubuntu-24.04' },
              { Name: 'SOURCE_AMI_ID', Value: 'ami-0123456789abcdef0' },
              { Name: 'BUILD_ID', Value: BUILD_ID },
              { Name: 'PIPELINE', Value: 'web' },
              { Name: 'CHANNEL', Value: 'stable' },
              { Name: 'EXECUTION_NAME', Value: BUILD_ID },
              { Name: 'KMS_KEY_ID', Value: DISTRIBUTION.bakeKmsKeyId as string },
              { Name: 'BUILD_JSON', Value: JSON.stringify(run.output?.build) },
            ],
          },
        ],
      },
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          Subnets: ['local:param:bakeSubnetIds'],
          SecurityGroups: ['local:param:bakeSecurityGroupIds'],
        },
      },
      Tags: [
        { Key: 'factory:pipeline', Value: 'web' },
        { Key: 'factory:build-id', Value: BUILD_ID },
      ],
    });
    expect(run.output?.bake).toEqual({
      taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/golden-image-factory-local/0f1e2d3c4b5a',
      lastStatus: 'STOPPED',
    });
  });

  it('success: PrepareBuild gets the request and the execution; later tasks get the whole document', async () => {
    const run = await runPipeline();

    expect(inputOf(run, 'PrepareBuild')).toEqual({
      input: { pipeline: 'web', channel: 'stable', trigger: 'manual', baseImage: 'ubuntu-24.04' },
      execution: expect.objectContaining({ Id: EXECUTION.Id, Name: EXECUTION.Name }),
    });
    expect(run.output?.build).toMatchObject({ executionName: EXECUTION.Name, executionArn: EXECUTION.Id });
    expect(inputOf(run, 'NotifySuccess')).toMatchObject({
      pipeline: 'web',
      build: { buildId: BUILD_ID },
      candidate: {},
      termination: {},
      promotion: {},
      retention: {},
    });
  });

  describe('InspectCandidate: SBOM, package diff and vulnerability gate, before any test instance', () => {
    const UP_TO_INSPECTION = ['PrepareBuild', 'BakeImage', 'FindCandidateImage', 'InspectCandidate'];

    it('gate passes: the diff against the channel image and the verdict are in $.inspection, the build goes on', async () => {
      // Act
      const run = await runPipeline();

      // Assess
      expect(run.status).toBe('SUCCEEDED');
      expect(run.output?.inspection).toMatchObject({
        sbom: CANDIDATE_SBOM,
        scanner: 'inspector',
        diff: {
          available: true,
          againstImageId: CURRENT_IMAGE_ID,
          counts: { added: 1, removed: 1, upgraded: 1, downgraded: 1 },
        },
        verdict: { outcome: 'pass', threshold: 'CRITICAL', applied: true },
      });
      expect(inputOf(run, 'NotifySuccess').inspection).toEqual(run.output?.inspection);
    });

    it('gate blocks: VulnerabilityGateFailed with the findings, cleanup, nothing launched or promoted', async () => {
      // Act
      const run = await runPipeline({
        InspectCandidate: inspectWith(new ScriptedScanner('inspector', FINDINGS_SCAN)),
      });

      // Assess
      expectFailedWith(run, 'VulnerabilityGateFailed');
      expect(run.visited).toEqual([
        ...UP_TO_INSPECTION,
        'IsVulnerabilityGatePassed',
        'VulnerabilityGateFailed',
        ...FAILURE_TAIL,
      ]);
      expect(String(run.error?.Cause)).toMatch(
        /^blocked: 2 findings at or above CRITICAL: CVE-2024-5535 \(critical\) in libssl3 3\.0\.19-1~deb12u2, fixed in 3\.0\.21-1~deb12u1/,
      );
      expect(run.calls.LaunchTestInstance).toBeUndefined();
      expect(run.calls.PromoteImage).toBeUndefined();
    });

    it('a lower threshold blocks on a high finding; NONE never blocks and scans nothing', async () => {
      const high = {
        scanned: true as const,
        report: {
          bomFormat: 'CycloneDX',
          vulnerabilities: [
            { id: 'CVE-2024-2398', ratings: [{ severity: 'high' }], affects: [{ ref: 'x' }] },
          ],
        },
      };
      const blocked = await runPipeline({
        InspectCandidate: inspectWith(new ScriptedScanner('inspector', high), 'HIGH'),
      });
      const none = new ScriptedScanner('inspector', FINDINGS_SCAN);
      const open = await runPipeline({ InspectCandidate: inspectWith(none, 'NONE') });

      expectFailedWith(blocked, 'VulnerabilityGateFailed');
      expect(open.status).toBe('SUCCEEDED');
      expect(none.scanned).toHaveLength(0);
      expect(open.output?.inspection).toMatchObject({
        scanner: 'none',
        vulnerabilities: null,
        verdict: { applied: false },
      });
    });

    it('scan error: the scanner`s error goes to cleanup, nothing launched', async () => {
      // Act
      const run = await runPipeline({
        InspectCandidate: inspectWith(new ScriptedScanner('inspector', namedError('AccessDeniedException'))),
      });

      // Assess
      expectFailedWith(run, 'AccessDeniedException');
      expect(run.visited).toEqual([...UP_TO_INSPECTION, ...FAILURE_TAIL]);
      expect(run.calls.LaunchTestInstance).toBeUndefined();
    });

    it('candidate without SBOM: CandidateWithoutSbom says the bake produced none, nothing launched', async () => {
      // Act
      const run = await runPipeline({
        FindCandidateImage: () => ({
          imageId: CANDIDATE_IMAGE_ID,
          name: `web-${BUILD_ID}`,
          createdAt: '2026-01-01T12:40:00.000Z',
          snapshotIds: [],
        }),
      });

      // Assess
      expectFailedWith(run, 'CandidateWithoutSbom');
      expect(String(run.error?.Cause)).toMatch(/has no factory:sbom tag: the bake produced no SBOM/);
      expect(run.visited).toEqual([...UP_TO_INSPECTION, ...FAILURE_TAIL]);
    });

    it('Lambda errors are retried with the standard retrier, then the inspection goes on', async () => {
      // Act
      const inspect = inspectWith(
        new ScriptedScanner('inspector', { scanned: true, report: { bomFormat: 'CycloneDX' } }),
      );
      const run = await runPipeline({
        InspectCandidate: (input, call) => {
          if (call === 1) throw namedError('Lambda.ServiceException');
          return inspect(input, call);
        },
      });

      // Assess
      expect(run.status).toBe('SUCCEEDED');
      expect(retriesOf(run, 'InspectCandidate')).toBe(1);
    });
  });

  it('bake failure: cleans up and fails with the ECS error without launching anything', async () => {
    const run = await runPipeline({
      BakeImage: throwing('States.TaskFailed', 'Essential container in task exited'),
    });

    expectFailedWith(run, 'States.TaskFailed');
    expect(run.visited).toEqual(['PrepareBuild', 'BakeImage', ...FAILURE_TAIL]);
    expect(run.error?.Cause).toContain('Essential container in task exited');
  });

  it('no AMI found: CandidateNotFound goes to cleanup and fails the execution', async () => {
    const run = await runPipeline({ FindCandidateImage: throwing('CandidateNotFound') });

    expectFailedWith(run, 'CandidateNotFound');
    expect(run.visited).toEqual(['PrepareBuild', 'BakeImage', 'FindCandidateImage', ...FAILURE_TAIL]);
  });

  it('invalid request: PrepareBuild failure is reported even though no build exists yet', async () => {
    const run = await runPipeline({ PrepareBuild: throwing('InvalidInput') });

    expectFailedWith(run, 'InvalidInput');
    expect(run.visited).toEqual(['PrepareBuild', ...FAILURE_TAIL]);
  });

  it('instance never online: stops at the ASL bound of checks and cleans up the test instance', async () => {
    const run = await runPipeline({
      CheckInstanceOnline: (input) => ({
        online: false,
        attempt: ((input.online as { attempt?: number } | undefined)?.attempt ?? 0) + 1,
      }),
    });

    expectFailedWith(run, 'InstanceNeverOnline');
    expect(run.calls.CheckInstanceOnline).toHaveLength(ONLINE?.maxAttempts as number);
    expect(run.visited.filter((state) => state === 'WaitForInstanceBoot')).toHaveLength(1);
    expect(run.visited.filter((state) => state === 'WaitForInstanceOnline')).toHaveLength(
      (ONLINE?.maxAttempts as number) - 1,
    );
    expect(run.visited).not.toContain('ProbeTestInstance');
    expect(run.visited.slice(-5)).toEqual(['InstanceNeverOnline', ...FAILURE_TAIL]);
    expect(run.error?.Cause).toBe(`test instance not online after ${ONLINE?.maxAttempts} checks`);
  });

  it('probe failure: ProbeFailed cleans up (candidate deregistered there) and nothing is promoted', async () => {
    const run = await runPipeline({
      CheckProbeResult: throwing('ProbeFailed', '1 of 12 checks failed: sshd-hardened'),
    });

    expectFailedWith(run, 'ProbeFailed');
    expect(run.visited).not.toContain('TerminateTestInstance');
    expect(run.visited).not.toContain('PromoteImage');
    expect(inputOf(run, 'CleanupAfterFailure')).toMatchObject({
      candidate: { imageId: 'ami-0c0ffee0c0ffee001' },
      testInstance: { instanceId: 'i-0feedface0000001' },
    });
  });

  it('probe failure reported as a status: the ProbeFailed Pass state records the error', async () => {
    const run = await runPipeline({
      CheckProbeResult: () => ({
        status: 'Failed',
        attempt: 1,
        checks: [],
        passed: false,
        failed: ['sshd-hardened'],
      }),
    });

    expectFailedWith(run, 'ProbeFailed');
    expect(run.visited).toContain('ProbeFailed');
    expect(run.error?.Cause).toBe('probe reported status Failed at check 1');
  });

  it('probe never completes: stops at the ASL bound of checks with ProbeTimedOut', async () => {
    const run = await runPipeline({
      CheckProbeResult: (input) => ({
        status: 'InProgress',
        attempt: ((input.probeResult as { attempt?: number } | undefined)?.attempt ?? 0) + 1,
        checks: [],
        passed: false,
        failed: [],
      }),
    });

    expectFailedWith(run, 'ProbeTimedOut');
    expect(run.calls.CheckProbeResult).toHaveLength(PROBE?.maxAttempts as number);
    expect(run.error?.Cause).toBe(
      `probe not complete after ${PROBE?.maxAttempts} checks (last status InProgress)`,
    );
  });

  it('probe command timed out in SSM: ProbeTimedOut without waiting for the poll bound', async () => {
    const run = await runPipeline({
      CheckProbeResult: () => ({ status: 'TimedOut', attempt: 3, checks: [], passed: false, failed: [] }),
    });

    expectFailedWith(run, 'ProbeTimedOut');
    expect(run.calls.CheckProbeResult).toHaveLength(1);
  });

  it('Slack failure on success: the execution still succeeds and the image stays promoted', async () => {
    const run = await runPipeline({ NotifySuccess: throwing('SlackDeliveryFailed') });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(-2)).toEqual(['NotifySuccess', 'PipelineSucceeded']);
    expect(run.visited).not.toContain('CleanupAfterFailure');
    expect(run.output).toMatchObject({
      promotion: { imageId: 'ami-0c0ffee0c0ffee001' },
      notificationError: { Error: 'SlackDeliveryFailed' },
    });
  });

  it('Slack failure on failure: the execution still fails with the original error', async () => {
    const run = await runPipeline({
      FindCandidateImage: throwing('CandidateNotFound'),
      NotifyFailure: throwing('SlackDeliveryFailed'),
    });

    expectFailedWith(run, 'CandidateNotFound');
  });

  it('retention partial failure: per-image failures are reported and the pipeline succeeds', async () => {
    const outcomes = [
      {
        imageId: 'ami-0a0a0a0a0a0a0a0a1',
        action: 'deregister',
        reason: 'older than the 3 newest',
        outcome: 'deregistered',
        snapshots: [],
      },
      {
        imageId: 'ami-0a0a0a0a0a0a0a0a2',
        action: 'deregister',
        reason: 'older than the 3 newest',
        outcome: 'failed',
        snapshots: [],
      },
    ];
    const run = await runPipeline({ ApplyRetention: () => ({ dryRun: false, outcomes }) });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(-4)).toEqual([
      'ApplyRetention',
      'IsRolloutConfigured',
      'NotifySuccess',
      'PipelineSucceeded',
    ]);
    expect(inputOf(run, 'NotifySuccess').retention).toEqual({ dryRun: false, outcomes });
  });

  it('retention failure as a whole: the promoted build succeeds with a partial retention report', async () => {
    const run = await runPipeline({ ApplyRetention: throwing('AccessDenied') });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(-5)).toEqual([
      'ApplyRetention',
      'RetentionIncomplete',
      'IsRolloutConfigured',
      'NotifySuccess',
      'PipelineSucceeded',
    ]);
    expect(run.visited).not.toContain('CleanupAfterFailure');
    expect(inputOf(run, 'NotifySuccess').retention).toMatchObject({
      dryRun: false,
      outcome: 'partial',
      outcomes: [],
      error: { Error: 'AccessDenied' },
    });
  });

  it('retention that keeps failing after the Lambda retries: bounded, then partial, never cleanup', async () => {
    const run = await runPipeline({ ApplyRetention: throwing('Lambda.ServiceException') });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.calls.ApplyRetention).toHaveLength(7);
    expect(inputOf(run, 'NotifySuccess').retention).toMatchObject({ outcome: 'partial' });
  });

  it('retried Lambda.ServiceException then success: one retry, same outcome as the happy path', async () => {
    const happy = await runPipeline();
    const run = await runPipeline({
      LaunchTestInstance: failingFirst(1, 'Lambda.ServiceException', () => ({
        instanceId: 'i-0feedface0000001',
      })),
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited).toEqual(SUCCESS_PATH);
    expect(retriesOf(run, 'LaunchTestInstance')).toBe(1);
    expect(run.calls.LaunchTestInstance).toHaveLength(2);
    expect(run.output).toEqual(happy.output);
  });

  it('Lambda.TooManyRequestsException that never clears: retries are bounded, then cleanup', async () => {
    const run = await runPipeline({ PromoteImage: throwing('Lambda.TooManyRequestsException') });

    expectFailedWith(run, 'Lambda.TooManyRequestsException');
    expect(run.calls.PromoteImage).toHaveLength(7);
  });

  it('InvocationDoesNotExist right after SendCommand: retried, then the probe result is read', async () => {
    const run = await runPipeline({
      CheckProbeResult: failingFirst(2, 'InvocationDoesNotExist', (input) => ({
        status: 'Success',
        attempt: ((input.probeResult as { attempt?: number } | undefined)?.attempt ?? 0) + 1,
        checks: [],
        passed: true,
        failed: [],
      })),
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(retriesOf(run, 'CheckProbeResult')).toBe(2);
  });

  it('InvocationDoesNotExist that persists: bounded at 5 retries, then cleanup', async () => {
    const run = await runPipeline({ CheckProbeResult: throwing('InvocationDoesNotExist') });

    expectFailedWith(run, 'InvocationDoesNotExist');
    expect(run.calls.CheckProbeResult).toHaveLength(6);
  });

  it.each<[TaskName, string]>([
    ['LaunchTestInstance', 'InsufficientInstanceCapacity'],
    ['CheckInstanceOnline', 'UnauthorizedOperation'],
    ['ProbeTestInstance', 'InvalidInstanceId'],
    ['CheckProbeResult', 'ProbeFailed'],
    ['TerminateTestInstance', 'RequestLimitExceeded'],
    ['PromoteImage', 'ParameterVersionLabelLimitExceeded'],
  ])('after launch, a failure of %s (%s) always reaches CleanupAfterFailure', async (state, error) => {
    const run = await runPipeline({ [state]: throwing(error) });

    expectFailedWith(run, error);
    expect(run.visited).toContain('LaunchTestInstance');
    expect(run.visited.at(-FAILURE_TAIL.length - 1)).toBe(state);
  });

  it('cleanup failure: retried, its error kept at $.cleanup, failure still notified with the original error', async () => {
    const run = await runPipeline({
      FindCandidateImage: throwing('CandidateNotFound'),
      CleanupAfterFailure: throwing('UnauthorizedOperation'),
    });

    expectFailedWith(run, 'CandidateNotFound');
    expect(run.calls.CleanupAfterFailure).toHaveLength(4);
    expect(inputOf(run, 'NotifyFailure').cleanup).toMatchObject({ Error: 'UnauthorizedOperation' });
  });

  describe('promotion lease', () => {
    it('lease held by another execution: retried with backoff until it is free, then promotes', async () => {
      const run = await runPipeline({
        AcquirePromotionLease: failingFirst(3, 'PromotionLeaseHeld', happyPath().AcquirePromotionLease),
      });

      expect(run.status).toBe('SUCCEEDED');
      expect(retriesOf(run, 'AcquirePromotionLease')).toBe(3);
      expect(run.visited).toEqual(SUCCESS_PATH);
      expect(inputOf(run, 'PromoteImage').promotionLease).toMatchObject({ holder: BUILD_ID });
      expect(inputOf(run, 'ReleasePromotionLease')).toMatchObject({ build: { buildId: BUILD_ID } });
    });

    it('lease never free: bounded retries, then cleanup without a lease to release, and the build fails', async () => {
      const run = await runPipeline({ AcquirePromotionLease: throwing('PromotionLeaseHeld') });

      expectFailedWith(run, 'PromotionLeaseHeld');
      expect(run.calls.AcquirePromotionLease).toHaveLength(41);
      expect(run.visited).not.toContain('PromoteImage');
      expect(inputOf(run, 'CleanupAfterFailure')).not.toHaveProperty('promotionLease');
    });

    it('superseded: the lease is released, no retention runs, Slack gets the superseded build, SUCCEEDED', async () => {
      const run = await runPipeline({ PromoteImage: SUPERSEDED });

      expect(run.status).toBe('SUCCEEDED');
      expect(run.visited.slice(-6)).toEqual([...PROMOTION, 'NotifySuccess', 'PipelineSucceeded']);
      expect(run.visited).not.toContain('ApplyRetention');
      expect(run.visited).not.toContain('CleanupAfterFailure');
      expect(inputOf(run, 'NotifySuccess').promotion).toMatchObject({ outcome: 'superseded' });
      expect(run.output?.promotion).toMatchObject({ outcome: 'superseded' });
    });

    it('PromoteImage fails: cleanup receives the lease (to repair the channel and release it), build fails', async () => {
      const run = await runPipeline({ PromoteImage: throwing('ChannelPointerNotConfirmed') });

      expectFailedWith(run, 'ChannelPointerNotConfirmed');
      expect(run.visited).not.toContain('ReleasePromotionLease');
      expect(inputOf(run, 'CleanupAfterFailure')).toMatchObject({
        promotionLease: { key: 'local#web#stable', holder: BUILD_ID },
        candidate: { imageId: 'ami-0c0ffee0c0ffee001' },
      });
    });

    it('release fails: the error is recorded, retention and the report still run, SUCCEEDED', async () => {
      const run = await runPipeline({
        ReleasePromotionLease: throwing('ProvisionedThroughputExceededException'),
      });

      expect(run.status).toBe('SUCCEEDED');
      expect(run.visited).toEqual(SUCCESS_PATH);
      expect(run.output?.promotionLeaseReleaseError).toMatchObject({
        Error: 'ProvisionedThroughputExceededException',
      });
    });

    it('a promotion without an outcome (older handler) counts as promoted', async () => {
      const run = await runPipeline({
        PromoteImage: async (input, call) => {
          const { outcome: _omitted, ...rest } = (await happyPath().PromoteImage(input, call)) as Record<
            string,
            never
          >;
          return rest;
        },
      });

      expect(run.status).toBe('SUCCEEDED');
      expect(run.visited).toEqual(SUCCESS_PATH);
    });
  });

  describe('with an incident response plan', () => {
    const withPlan: TaskDouble = async (request, call) => ({
      ...((await happyPath().PrepareBuild(request, call)) as object),
      incidentResponsePlanArn: 'arn:aws:ssm-incidents::123456789012:response-plan/golden-image-factory',
      alerting: 'incident-manager',
    });
    const withOpsCenter: TaskDouble = async (request, call) => ({
      ...((await happyPath().PrepareBuild(request, call)) as object),
      alerting: 'opscenter',
    });

    it('raises an OpsCenter OpsItem through the same state when alerting is opscenter', async () => {
      const run = await runPipeline({
        PrepareBuild: withOpsCenter,
        CheckProbeResult: throwing('ProbeFailed'),
      });

      expect(run.status).toBe('FAILED');
      expect(run.error?.Error).toBe('ProbeFailed');
      expect(run.visited.slice(-3)).toEqual(['IsIncidentConfigured', 'OpenIncident', 'PipelineFailed']);
    });

    it('raises nothing but Slack when alerting is none, even with a response plan ARN left over', async () => {
      const leftover: TaskDouble = async (request, call) => ({
        ...((await happyPath().PrepareBuild(request, call)) as object),
        incidentResponsePlanArn: 'arn:aws:ssm-incidents::123456789012:response-plan/golden-image-factory',
      });
      const run = await runPipeline({ PrepareBuild: leftover, CheckProbeResult: throwing('ProbeFailed') });

      expect(run.status).toBe('FAILED');
      expect(run.calls.OpenIncident).toBeUndefined();
    });

    it('opens an incident on failure, then fails with the original error', async () => {
      const run = await runPipeline({ PrepareBuild: withPlan, CheckProbeResult: throwing('ProbeFailed') });

      expect(run.status).toBe('FAILED');
      expect(run.error?.Error).toBe('ProbeFailed');
      expect(run.visited.slice(-5)).toEqual([
        'CleanupAfterFailure',
        'NotifyFailure',
        'IsIncidentConfigured',
        'OpenIncident',
        'PipelineFailed',
      ]);
      expect(leavesNoTestInstance(run)).toBe(true);
    });

    it('an Incident Manager outage does not change the failure reported', async () => {
      const run = await runPipeline({
        PrepareBuild: withPlan,
        CheckProbeResult: throwing('ProbeFailed'),
        OpenIncident: throwing('AccessDeniedException'),
      });

      expect(run.status).toBe('FAILED');
      expect(run.error?.Error).toBe('ProbeFailed');
      expect(run.visited.slice(-2)).toEqual(['OpenIncident', 'PipelineFailed']);
    });

    it('opens no incident when the pipeline succeeds', async () => {
      const run = await runPipeline({ PrepareBuild: withPlan });

      expect(run.status).toBe('SUCCEEDED');
      expect(run.calls.OpenIncident).toBeUndefined();
    });
  });
});

/**
 * The candidate's fate on every failure path: the ASL runs with the real `cleanupAfterFailure()`
 * step as CleanupAfterFailure, over in-memory ports that stand in for EC2. The bake double
 * registers the build's AMI (tagged like Packer's `aws_tags`) before it fails or succeeds, the
 * real `findCandidateImage()` finds it, test instances are launched into the in-memory launcher.
 * So what reaches cleanup ($.candidate present or not, $.termination present or not) is what the
 * ASL really hands it, and each row counts the images and test instances left behind.
 */
describe('candidate cleanup on every failure before promotion', () => {
  const account = () => {
    const images = new MemoryImageStore();
    const launcher = new MemoryLauncher();
    const registerAmi = () =>
      images.images.push({
        imageId: CANDIDATE_IMAGE_ID,
        name: `web-${BUILD_ID}`,
        createdAt: '2026-01-01T12:40:00.000Z',
        tags: {
          'factory:pipeline': 'web',
          'factory:build-id': BUILD_ID,
          'factory:channel': 'candidate',
          'factory:sbom': CANDIDATE_SBOM,
        },
        snapshotIds: ['snap-0aaaaaaaaaaaaaaa1'],
      });
    const doubles: Partial<Record<TaskName, TaskDouble>> = {
      BakeImage: (input, call) => {
        registerAmi();
        return happyPath().BakeImage(input, call);
      },
      FindCandidateImage: async (input) =>
        (await findCandidateImage(input as never, { images })) as unknown as Json,
      LaunchTestInstance: async (input) =>
        (await launcher.launch({
          imageId: (input.candidate as { imageId: string }).imageId,
          pipeline: 'web',
          buildId: BUILD_ID,
          executionName: EXECUTION.Name,
          idempotencyToken: 't',
        })) as Json,
      TerminateTestInstance: async (input) => ({
        terminatedInstanceIds: await launcher.terminate([
          (input.testInstance as { instanceId: string }).instanceId,
        ]),
      }),
      CleanupAfterFailure: async (input) =>
        (await cleanupAfterFailure(input as never, {
          launcher,
          images,
          pointer: new MemoryChannelPointer(),
          ledger: new MemoryPromotionLedger(),
        })) as unknown as Json,
    };
    return { images, launcher, registerAmi, doubles };
  };

  const bakeThatFailsAfterRegistering =
    (registerAmi: () => unknown, error: string): TaskDouble =>
    () => {
      registerAmi();
      throw namedError(error);
    };

  it.each<[string, (a: ReturnType<typeof account>) => Partial<Record<TaskName, TaskDouble>>, string, string]>(
    [
      [
        'bake fails after registering the AMI (runner exit ≠ 0)',
        (a) => ({ BakeImage: bakeThatFailsAfterRegistering(a.registerAmi, 'States.TaskFailed') }),
        'States.TaskFailed',
        'deregistered',
      ],
      [
        'bake times out with the AMI registered',
        (a) => ({ BakeImage: bakeThatFailsAfterRegistering(a.registerAmi, 'States.Timeout') }),
        'States.Timeout',
        'deregistered',
      ],
      [
        'bake fails before registering anything',
        () => ({ BakeImage: throwing('States.TaskFailed') }),
        'States.TaskFailed',
        'absent',
      ],
      [
        'FindCandidateImage fails with the AMI there',
        () => ({ FindCandidateImage: throwing('Lambda.Unknown') }),
        'Lambda.Unknown',
        'deregistered',
      ],
      [
        'the vulnerability gate blocks',
        () => ({ InspectCandidate: inspectWith(new ScriptedScanner('inspector', FINDINGS_SCAN)) }),
        'VulnerabilityGateFailed',
        'deregistered',
      ],
      [
        'the scan fails',
        () => ({ InspectCandidate: throwing('ValidationException') }),
        'ValidationException',
        'deregistered',
      ],
      [
        'launch fails',
        () => ({ LaunchTestInstance: throwing('InsufficientInstanceCapacity') }),
        'InsufficientInstanceCapacity',
        'deregistered',
      ],
      [
        'the test instance never comes online',
        () => ({
          CheckInstanceOnline: (input) => ({
            online: false,
            attempt: ((input.online as { attempt?: number } | undefined)?.attempt ?? 0) + 1,
          }),
        }),
        'InstanceNeverOnline',
        'deregistered',
      ],
      [
        'the probe fails',
        () => ({ CheckProbeResult: throwing('ProbeFailed') }),
        'ProbeFailed',
        'deregistered',
      ],
      [
        'the probe cannot start',
        () => ({ ProbeTestInstance: throwing('InvalidInstanceId') }),
        'InvalidInstanceId',
        'deregistered',
      ],
      [
        'TerminateTestInstance fails',
        () => ({ TerminateTestInstance: throwing('RequestLimitExceeded') }),
        'RequestLimitExceeded',
        'deregistered',
      ],
      [
        'PromoteImage fails (promotion started: kept)',
        () => ({ PromoteImage: throwing('ParameterVersionLabelLimitExceeded') }),
        'ParameterVersionLabelLimitExceeded',
        'kept',
      ],
    ],
  )(
    '%s: no test instance left, the candidate removed unless promotion started',
    async (_label, overrides, error, fate) => {
      // Prepare
      const a = account();

      // Act
      const run = await runPipeline({ ...a.doubles, ...overrides(a) });

      // Assess: no test instance left, the candidate gone unless the promotion had started
      expectFailedWith(run, error);
      expect(inputOf(run, 'NotifyFailure').cleanup).toMatchObject({ candidate: fate });
      expect(a.launcher.live.size).toBe(0);
      expect(a.images.images.map((image) => image.imageId)).toEqual(
        fate === 'kept' ? [CANDIDATE_IMAGE_ID] : [],
      );
    },
  );
});
