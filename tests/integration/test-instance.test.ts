/**
 * The test-instance tasks against moto: LaunchTestInstance, CheckInstanceOnline, ProbeTestInstance,
 * CheckProbeResult, TerminateTestInstance and CleanupAfterFailure, with their real ports (EC2, SSM).
 * The SSM agent of the instances is the SsmAgentDouble (moto has no agent, MOTO-GAPS.md).
 */
import {
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  type Instance,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ListCommandsCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchToken } from '#commons/core/build-key.js';
import type { Build } from '#commons/schemas.js';
import { bakeImageLikePacker } from './doubles/packer-bake-double.js';
import { buildDocument, FAILING_PROBE, PASSING_PROBE } from './fixtures/build.js';
import {
  type AwsSide,
  existingSnapshotIds,
  findImage,
  importHandler,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  liveInstances,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';

const handlers = {} as Record<
  'launch' | 'checkOnline' | 'probe' | 'checkProbe' | 'terminate' | 'cleanup',
  LambdaHandler<Record<string, unknown>>
>;
let aws: AwsSide;

beforeAll(async () => {
  aws = await startAwsSide({
    env: {
      TEST_INSTANCE_TYPE: 't3.small',
      ONLINE_MAX_ATTEMPTS: '3',
      PROBE_MAX_ATTEMPTS: '4',
      PROBE_COMMAND: '/opt/probe/run',
    },
  });
  handlers.launch = await importHandler('launch-test-instance');
  handlers.checkOnline = await importHandler('check-instance-online');
  handlers.probe = await importHandler('probe-test-instance');
  handlers.checkProbe = await importHandler('check-probe-result');
  handlers.terminate = await importHandler('terminate-test-instance');
  handlers.cleanup = await importHandler('cleanup-after-failure');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await aws?.close();
});

const describeInstance = async (instanceId: string): Promise<Instance> => {
  const { Reservations } = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = Reservations?.[0]?.Instances?.[0];
  if (!instance) throw new Error(`instance ${instanceId} not found in moto`);
  return instance;
};

/** A build with its candidate baked into moto, and its test instance launched by the handler. */
const launchedBuild = async (pipeline: string) => {
  const build = buildDocument({ pipeline });
  const baked = await bakeImageLikePacker(aws.ec2, build);
  const candidate = {
    imageId: baked.imageId,
    name: `${pipeline}-x`,
    createdAt: new Date().toISOString(),
    snapshotIds: baked.snapshotIds,
  };
  const { instanceId } = (await invoke(handlers.launch, { build, candidate })) as { instanceId: string };
  return { build, candidate, instanceId, testInstance: { instanceId } };
};

describe('LaunchTestInstance', () => {
  it('launches one instance from the candidate with IMDSv2 required, the instance profile and the ownership tags', async () => {
    // Prepare
    const before = (await liveInstances(aws.ec2)).length;

    // Act
    const { build, candidate, instanceId } = await launchedBuild('launch');

    // Assess
    const instance = await describeInstance(instanceId);
    expect((await liveInstances(aws.ec2)).length).toBe(before + 1);
    expect(instance.ImageId).toBe(candidate.imageId);
    expect(instance.InstanceType).toBe('t3.small');
    expect(instance.MetadataOptions).toMatchObject({
      HttpTokens: 'required',
      HttpEndpoint: 'enabled',
      HttpPutResponseHopLimit: 1,
    });
    expect(instance.IamInstanceProfile?.Arn).toBe(
      `arn:aws:iam::123456789012:instance-profile/${stackSettings().TEST_INSTANCE_PROFILE}`,
    );
    expect(instance.ClientToken).toBe(launchToken(build));
    expect(tagsOf(instance)).toMatchObject({
      'factory:stage': stackSettings().STAGE,
      'factory:pipeline': 'launch',
      'factory:build-id': build.buildId,
      'factory:role': 'test-instance',
      'factory:execution': build.executionName,
    });
    const volumeId = instance.BlockDeviceMappings?.[0]?.Ebs?.VolumeId ?? '';
    const { Volumes } = await aws.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
    expect(tagsOf(Volumes?.[0] ?? {})).toMatchObject({ 'factory:build-id': build.buildId });
  });

  it('fails with the EC2 error when the candidate AMI does not exist', async () => {
    // Prepare
    const build = buildDocument({ pipeline: 'launch-missing' });
    const candidate = {
      imageId: 'ami-0123456789abcdef0',
      name: 'gone',
      createdAt: '2026-11-21T00:00:00Z',
      snapshotIds: [],
    };

    // Act
    const error = await invokeExpectingError(handlers.launch, { build, candidate });

    // Assess
    expect(error.name).toBe('InvalidAMIID.NotFound');
  });
});

describe('CheckInstanceOnline', () => {
  it('counts the checks and reports online once the SSM agent is Online', async () => {
    // Prepare
    const { build, testInstance, instanceId } = await launchedBuild('online');
    aws.proxy.ssmAgent.goesOnline(instanceId, 1);

    // Act
    const first = await invoke(handlers.checkOnline, { build, testInstance });
    const second = await invoke(handlers.checkOnline, { build, testInstance, online: first });

    // Assess
    expect(first).toEqual({ online: false, attempt: 1 });
    expect(second).toEqual({ online: true, attempt: 2 });
  });

  it('throws InstanceNeverOnline at ONLINE_MAX_ATTEMPTS', async () => {
    // Prepare
    const { build, testInstance, instanceId } = await launchedBuild('never-online');
    aws.proxy.ssmAgent.goesOnline(instanceId, Number.POSITIVE_INFINITY);

    // Act
    const error = await invokeExpectingError(handlers.checkOnline, {
      build,
      testInstance,
      online: { online: false, attempt: 2 },
    });

    // Assess
    expect(error.name).toBe('InstanceNeverOnline');
    expect(aws.proxy.ssmAgent.checksOf(instanceId)).toBe(1);
  });
});

describe('ProbeTestInstance and CheckProbeResult', () => {
  const startProbe = async (
    pipeline: string,
    script: Parameters<AwsSide['proxy']['ssmAgent']['scriptCommand']>[1] | null,
  ) => {
    const launched = await launchedBuild(pipeline);
    if (script) aws.proxy.ssmAgent.scriptCommand(launched.instanceId, script);
    const probe = (await invoke(handlers.probe, {
      build: launched.build,
      testInstance: launched.testInstance,
    })) as {
      commandId: string;
      instanceId: string;
    };
    return { ...launched, probe };
  };

  it('sends the probe suite with Run Command and reads a passing run to Success', async () => {
    // Prepare
    const { build, probe, instanceId } = await startProbe('probe-pass', [
      { status: 'NotYet' },
      { status: 'InProgress' },
      { status: 'Success', stdout: PASSING_PROBE },
    ]);

    // Act
    const notYet = await invokeExpectingError(handlers.checkProbe, { build, probe });
    const running = await invoke(handlers.checkProbe, { build, probe });
    const done = await invoke(handlers.checkProbe, { build, probe, probeResult: running });

    // Assess
    const { Commands } = await aws.ssm.send(new ListCommandsCommand({ CommandId: probe.commandId }));
    expect(probe.instanceId).toBe(instanceId);
    expect(Commands?.[0]).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      Parameters: { commands: ['/opt/probe/run'], executionTimeout: [String(build.probeTimeoutSeconds)] },
    });
    expect(notYet.name).toBe('InvocationDoesNotExist');
    expect(running).toMatchObject({ status: 'InProgress', attempt: 1, passed: false });
    expect(done).toMatchObject({ status: 'Success', attempt: 2, passed: true, failed: [] });
    expect((done.checks as unknown[]).length).toBe(3);
  });

  it('throws ProbeFailed naming the failed check', async () => {
    // Prepare
    const { build, probe } = await startProbe('probe-fail', [{ status: 'Failed', stdout: FAILING_PROBE }]);

    // Act
    const error = await invokeExpectingError(handlers.checkProbe, { build, probe });

    // Assess
    expect(error.name).toBe('ProbeFailed');
    expect(error.message).toContain('no-authorized-keys');
  });

  it("fails safe on moto's raw reply (Success with no output): ProbeFailed, no-output", async () => {
    // Prepare
    const { build, probe } = await startProbe('probe-raw', null);

    // Act
    const error = await invokeExpectingError(handlers.checkProbe, { build, probe });

    // Assess
    expect(error.name).toBe('ProbeFailed');
    expect(error.message).toContain('probe:no-output');
  });

  it('throws ProbeTimedOut when the command timed out, and when PROBE_MAX_ATTEMPTS reads elapsed', async () => {
    // Prepare
    const timedOut = await startProbe('probe-timeout', [{ status: 'TimedOut' }]);
    const slow = await startProbe('probe-slow', [{ status: 'InProgress' }]);

    // Act
    const onInstance = await invokeExpectingError(handlers.checkProbe, {
      build: timedOut.build,
      probe: timedOut.probe,
    });
    const bounded = await invokeExpectingError(handlers.checkProbe, {
      build: slow.build,
      probe: slow.probe,
      probeResult: { status: 'InProgress', attempt: 3, checks: [], passed: false, failed: [] },
    });

    // Assess
    expect(onInstance.name).toBe('ProbeTimedOut');
    expect(bounded.name).toBe('ProbeTimedOut');
  });
});

describe('TerminateTestInstance', () => {
  it('terminates the test instance, and a retried task is harmless', async () => {
    // Prepare
    const { build, testInstance, instanceId } = await launchedBuild('terminate');

    // Act
    const first = await invoke(handlers.terminate, { build, testInstance });
    const retried = await invoke(handlers.terminate, { build, testInstance });

    // Assess
    expect(first).toEqual({ instanceIds: [instanceId] });
    expect(retried).toEqual({ instanceIds: [instanceId] });
    expect((await describeInstance(instanceId)).State?.Name).toBe('terminated');
  });
});

describe('CleanupAfterFailure', () => {
  /** A second instance of the same build, as a retried launch would leave (moto ignores ClientToken). */
  const strayInstance = async (build: Build, imageId: string): Promise<string> => {
    const { Instances } = await aws.ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'factory:stage', Value: stackSettings().STAGE },
              { Key: 'factory:pipeline', Value: build.pipeline },
              { Key: 'factory:build-id', Value: build.buildId },
              { Key: 'factory:role', Value: 'test-instance' },
            ],
          },
        ],
      }),
    );
    return Instances?.[0]?.InstanceId ?? '';
  };

  it('after a failed probe: terminates every test instance of the build and deregisters the candidate with its snapshots', async () => {
    // Prepare
    const { build, candidate, testInstance, instanceId } = await launchedBuild('cleanup-probe');
    const stray = await strayInstance(build, candidate.imageId);
    const bystander = await launchedBuild('cleanup-bystander');
    const error = { Error: 'ProbeFailed', Cause: 'no-authorized-keys' };

    // Act
    const result = await invoke(handlers.cleanup, { build, candidate, testInstance, error });

    // Assess
    const live = new Set((await liveInstances(aws.ec2)).map((i) => i.InstanceId));
    expect(live.has(instanceId)).toBe(false);
    expect(live.has(stray)).toBe(false);
    expect(live.has(bystander.instanceId)).toBe(true);
    expect(result).toMatchObject({ candidate: 'deregistered', deregisteredImageId: candidate.imageId });
    expect(await findImage(aws.ec2, candidate.imageId)).toBeUndefined();
    const snapshots = await existingSnapshotIds(aws.ec2);
    for (const id of candidate.snapshotIds) expect(snapshots.has(id)).toBe(false);
    expect(await findImage(aws.ec2, bystander.candidate.imageId)).toBeDefined();
  });

  it('after any failure before promotion: terminates the instances and deregisters the candidate with its snapshot', async () => {
    // Prepare
    const { build, candidate, testInstance, instanceId } = await launchedBuild('cleanup-online');
    const error = { Error: 'InstanceNeverOnline', Cause: 'not online after 40 checks' };

    // Act
    const result = await invoke(handlers.cleanup, { build, candidate, testInstance, error });

    // Assess
    expect(result).toMatchObject({
      candidate: 'deregistered',
      deregisteredImageId: candidate.imageId,
      terminatedInstanceIds: [instanceId],
    });
    expect((await describeInstance(instanceId)).State?.Name).toBe('terminated');
    expect(await findImage(aws.ec2, candidate.imageId)).toBeUndefined();
    const snapshots = await existingSnapshotIds(aws.ec2);
    for (const snapshotId of candidate.snapshotIds) expect(snapshots.has(snapshotId)).toBe(false);
  });

  it('after a bake that failed once its AMI was registered: finds the candidate by build id ($.candidate absent)', async () => {
    // Prepare
    const build = buildDocument({ pipeline: 'cleanup-bake' });
    const baked = await bakeImageLikePacker(aws.ec2, build);

    // Act
    const result = await invoke(handlers.cleanup, { build, error: { Error: 'States.TaskFailed' } });

    // Assess
    expect(result).toMatchObject({ candidate: 'deregistered', deregisteredImageId: baked.imageId });
    expect(await findImage(aws.ec2, baked.imageId)).toBeUndefined();
  });

  it('after a failure during promotion ($.termination present): keeps the candidate', async () => {
    // Prepare
    const { build, candidate, instanceId } = await launchedBuild('cleanup-promote');
    const termination = { terminatedInstanceIds: [instanceId] };
    const error = { Error: 'ParameterVersionLabelLimitExceeded' };

    // Act
    const result = await invoke(handlers.cleanup, { build, candidate, termination, error });

    // Assess
    expect(result).toMatchObject({ candidate: 'kept', deregisteredImageId: null });
    expect(await findImage(aws.ec2, candidate.imageId)).toBeDefined();
  });
});
