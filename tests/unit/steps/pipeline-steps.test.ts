import { describe, expect, it } from 'vitest';
import { buildId, executionName, launchToken } from '#commons/core/build-key.js';
import {
  CandidateNotFound,
  ForeignBaseImage,
  InstanceNeverOnline,
  InvalidInput,
  ProbeFailed,
  ProbeTimedOut,
  UnknownBaseImage,
  UnknownImageDefinition,
} from '#commons/errors.js';
import { PrepareBuildInput } from '#commons/handler-inputs.js';
import { checkInstanceOnline } from '#commons/steps/check-instance-online.js';
import { checkProbeResult } from '#commons/steps/check-probe-result.js';
import { findCandidateImage } from '#commons/steps/find-candidate-image.js';
import { launchTestInstance } from '#commons/steps/launch-test-instance.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';
import { probeTestInstance } from '#commons/steps/probe-test-instance.js';
import { terminateTestInstance } from '#commons/steps/terminate-test-instance.js';
import {
  MemoryImageStore,
  MemoryLauncher,
  MemoryPromotionLedger,
  ScriptedRunner,
  StaticSources,
} from '../helpers/fakes.js';
import { BUILD, CANDIDATE, COMMIT, imageRecord, NOW } from '../helpers/fixtures.js';

const CANONICAL = '099720109477';
const sources = new StaticSources({
  'ami-0aaaaaaaaaaaaaaaa': {
    imageId: 'ami-0aaaaaaaaaaaaaaaa',
    name: 'ubuntu-noble',
    ownerId: CANONICAL,
    baseImage: 'ubuntu-24.04',
    createdAt: '2026-06-01T08:00:00.000Z',
  },
  'ami-0bbbbbbbbbbbbbbbb': {
    imageId: 'ami-0bbbbbbbbbbbbbbbb',
    name: 'evil',
    ownerId: '666666666666',
    createdAt: '2026-06-01T08:00:00.000Z',
  },
  'ami-0ccccccccccccccc0': { imageId: 'ami-0ccccccccccccccc0', name: 'undated', ownerId: CANONICAL },
});
const options = { probeTimeoutSeconds: 900, now: () => NOW };
const ports = (ledger = new MemoryPromotionLedger()) => ({ sources, ledger });

describe('prepareBuild', () => {
  it('resolves the current source AMI and derives build id and execution name', async () => {
    const request = PrepareBuildInput.parse({ pipeline: 'web', baseImage: 'ubuntu-24.04', commit: COMMIT });
    const build = await prepareBuild(request, ports(), options);
    expect(build).toMatchObject({
      pipeline: 'web',
      channel: 'stable',
      trigger: 'manual',
      sourceImageId: 'ami-0aaaaaaaaaaaaaaaa',
      sourceImageName: 'ubuntu-noble',
      commit: COMMIT,
      startedAt: NOW.toISOString(),
      probeTimeoutSeconds: 900,
      imageDefinition: 'web',
      executionName: executionName({
        pipeline: 'web',
        channel: 'stable',
        sourceImageId: 'ami-0aaaaaaaaaaaaaaaa',
        commit: COMMIT,
      }),
      attempt: 1,
    });
    expect(build.buildId).toMatch(/^web-[0-9a-f]{12}$/);
    expect(build).not.toHaveProperty('incidentResponsePlanArn');
  });

  it("orders the build by its source AMI's creation time, then the pipeline's next build sequence", async () => {
    const ledger = new MemoryPromotionLedger();
    const request = PrepareBuildInput.parse({ pipeline: 'web', baseImage: 'ubuntu-24.04' });

    const first = await prepareBuild(request, ports(ledger), options);
    const second = await prepareBuild(request, ports(ledger), options);

    expect(first.order).toEqual({ sourceCreatedAt: '2026-06-01T08:00:00.000Z', sequence: 1 });
    expect(second.order).toEqual({ sourceCreatedAt: '2026-06-01T08:00:00.000Z', sequence: 2 });
  });

  it('refuses a source AMI without a creation time, before taking a build sequence number', async () => {
    const ledger = new MemoryPromotionLedger();
    const request = PrepareBuildInput.parse({
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      sourceImageId: 'ami-0ccccccccccccccc0',
    });

    await expect(prepareBuild(request, ports(ledger), options)).rejects.toThrow('has no creation time');
    expect(ledger.sequences.size).toBe(0);
  });

  it('takes name, ARN and start time from $$.Execution when the ASL passes it', async () => {
    const request = PrepareBuildInput.parse({
      input: { pipeline: 'web', baseImage: 'ubuntu-24.04' },
      execution: {
        Id: 'arn:aws:states:eu-west-1:1:execution:sm:manual-1',
        Name: 'manual-1',
        StartTime: '2026-06-30T10:00:00.000Z',
      },
    });
    const build = await prepareBuild(request, ports(), { ...options, incidentResponsePlanArn: 'arn:plan' });
    expect(build).toMatchObject({
      executionName: 'manual-1',
      executionArn: 'arn:aws:states:eu-west-1:1:execution:sm:manual-1',
      startedAt: '2026-06-30T10:00:00.000Z',
      incidentResponsePlanArn: 'arn:plan',
      buildId: buildId({ pipeline: 'web', executionArn: 'arn:aws:states:eu-west-1:1:execution:sm:manual-1' }),
    });
  });

  it('names a rebuild (attempt 2) differently and gives it its own build id', async () => {
    // Prepare
    const first = PrepareBuildInput.parse({ pipeline: 'web', baseImage: 'ubuntu-24.04', commit: COMMIT });
    const second = PrepareBuildInput.parse({
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      commit: COMMIT,
      attempt: 2,
    });

    // Act
    const [a, b] = [
      await prepareBuild(first, ports(), options),
      await prepareBuild(second, ports(), options),
    ];

    // Assess
    expect(b.attempt).toBe(2);
    expect(b.executionName).toMatch(/^web-stable-ami-0aaaaaaaaaaaaaaaa-0123456-r2-[0-9a-f]{8}$/);
    expect(b.executionName).not.toBe(a.executionName);
    expect(b.buildId).not.toBe(a.buildId);
  });

  it.each([0, 100, 1.5, '2'])('refuses attempt %j with a clear error', (attempt) => {
    expect(() => PrepareBuildInput.parse({ pipeline: 'web', baseImage: 'ubuntu-24.04', attempt })).toThrow(
      /attempt must be a whole number from 1 to 99/,
    );
  });

  it('refuses a source AMI from an untrusted owner', async () => {
    const request = PrepareBuildInput.parse({
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      sourceImageId: 'ami-0bbbbbbbbbbbbbbbb',
    });
    await expect(prepareBuild(request, ports(), options)).rejects.toThrow(ForeignBaseImage);
  });

  it('refuses a source AMI that does not exist', async () => {
    const request = PrepareBuildInput.parse({
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      sourceImageId: 'ami-0ddddddddddddddd0',
    });
    await expect(prepareBuild(request, ports(), options)).rejects.toThrow(InvalidInput);
  });

  it('bakes the image definition the request names, else the one named like the pipeline', async () => {
    const named = PrepareBuildInput.parse({
      pipeline: 'edge',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'base',
    });
    const namesake = PrepareBuildInput.parse({ pipeline: 'base', baseImage: 'ubuntu-24.04' });
    expect((await prepareBuild(named, ports(), options)).imageDefinition).toBe('base');
    expect((await prepareBuild(namesake, ports(), options)).imageDefinition).toBe('base');
  });

  it('throws UnknownImageDefinition naming the known ones, before resolving any source image', async () => {
    const request = PrepareBuildInput.parse({ pipeline: 'api', baseImage: 'ubuntu-24.04' });
    const untouchable = {
      resolve: () => Promise.reject(new Error('resolve must not be called')),
      describe: () => Promise.reject(new Error('describe must not be called')),
    };
    const failure = prepareBuild(
      request,
      { sources: untouchable, ledger: new MemoryPromotionLedger() },
      options,
    );
    await expect(failure).rejects.toThrow(UnknownImageDefinition);
    await expect(failure).rejects.toThrow(
      'unknown image definition "api" (pipeline "api" names none, so its own name was tried); expected one of: base, web',
    );
  });

  it('throws UnknownBaseImage for a base image outside the catalog', async () => {
    const request = {
      input: { pipeline: 'web', baseImage: 'centos-7', channel: 'stable', trigger: 'manual' as const },
    };
    await expect(prepareBuild(request, ports(), options)).rejects.toThrow(UnknownBaseImage);
  });
});

describe('findCandidateImage', () => {
  it('returns the newest image carrying the build id', async () => {
    const images = new MemoryImageStore([
      imageRecord('ami-0000000000000000a', 0.1, { 'factory:build-id': BUILD.buildId }),
      imageRecord('ami-0000000000000000b', 0.05, { 'factory:build-id': BUILD.buildId }),
      imageRecord('ami-0000000000000000c', 0, { 'factory:build-id': 'other' }),
    ]);
    const candidate = await findCandidateImage({ build: BUILD }, { images });
    expect(candidate.imageId).toBe('ami-0000000000000000b');
    expect(candidate.snapshotIds).toEqual(['snap-0000000000000000b']);
  });

  it('ignores another pipeline image with the same build id', async () => {
    const images = new MemoryImageStore([
      imageRecord('ami-0000000000000000a', 0, {
        'factory:build-id': BUILD.buildId,
        'factory:pipeline': 'api',
      }),
    ]);
    await expect(findCandidateImage({ build: BUILD }, { images })).rejects.toThrow(CandidateNotFound);
  });
});

describe('launch, readiness, probe start, termination', () => {
  it('launches with an idempotency token derived from build and execution', async () => {
    const launcher = new MemoryLauncher();
    const { instanceId } = await launchTestInstance({ build: BUILD, candidate: CANDIDATE }, { launcher });
    expect(instanceId).toMatch(/^i-/);
    expect(launcher.launches).toEqual([
      {
        imageId: CANDIDATE.imageId,
        pipeline: 'web',
        buildId: BUILD.buildId,
        executionName: BUILD.executionName,
        idempotencyToken: launchToken(BUILD),
      },
    ]);
  });

  it('counts readiness attempts and throws InstanceNeverOnline at the bound', async () => {
    const launcher = new MemoryLauncher();
    const { instanceId } = await launcher.launch({
      imageId: 'ami-1',
      pipeline: 'web',
      buildId: 'b',
      executionName: 'e',
      idempotencyToken: 't',
    });
    const input = { testInstance: { instanceId } };
    await expect(checkInstanceOnline(input, { launcher }, { maxAttempts: 3 })).resolves.toEqual({
      online: false,
      attempt: 1,
    });
    await expect(
      checkInstanceOnline({ ...input, online: { attempt: 1 } }, { launcher }, { maxAttempts: 3 }),
    ).resolves.toEqual({ online: false, attempt: 2 });
    await expect(
      checkInstanceOnline({ ...input, online: { attempt: 2 } }, { launcher }, { maxAttempts: 3 }),
    ).rejects.toThrow(InstanceNeverOnline);
    launcher.ready.add(instanceId);
    await expect(
      checkInstanceOnline({ ...input, online: { attempt: 2 } }, { launcher }, { maxAttempts: 3 }),
    ).resolves.toEqual({ online: true, attempt: 3 });
  });

  it('starts the probe with the build probe timeout', async () => {
    const runner = new ScriptedRunner();
    const probe = await probeTestInstance({ build: BUILD, testInstance: { instanceId: 'i-1' } }, { runner });
    expect(probe).toEqual({ commandId: 'cmd-1', instanceId: 'i-1' });
    expect(runner.started).toEqual([{ instanceId: 'i-1', timeoutSeconds: 600 }]);
  });

  it('terminates the test instance', async () => {
    const launcher = new MemoryLauncher();
    const { instanceId } = await launcher.launch({
      imageId: 'ami-1',
      pipeline: 'web',
      buildId: 'b',
      executionName: 'e',
      idempotencyToken: 't',
    });
    await expect(terminateTestInstance({ testInstance: { instanceId } }, { launcher })).resolves.toEqual({
      instanceIds: [instanceId],
    });
  });
});

describe('checkProbeResult', () => {
  const probe = { commandId: 'cmd-1', instanceId: 'i-1' };
  const ok = `${JSON.stringify({ check: 'sshd', ok: true, detail: '' })}\n${JSON.stringify({ check: 'imds', ok: true, detail: 'v2' })}`;

  it('reports a running probe with the attempt count', async () => {
    const runner = new ScriptedRunner([{ status: 'InProgress', stdout: '', stderr: '' }]);
    await expect(
      checkProbeResult({ probe, probeResult: { attempt: 4 } }, { runner }, { maxAttempts: 10 }),
    ).resolves.toEqual({
      status: 'InProgress',
      attempt: 5,
      checks: [],
      passed: false,
      failed: [],
    });
  });

  it('passes a successful probe', async () => {
    const runner = new ScriptedRunner([{ status: 'Success', exitCode: 0, stdout: ok, stderr: '' }]);
    const result = await checkProbeResult({ probe }, { runner }, { maxAttempts: 10 });
    expect(result).toMatchObject({
      status: 'Success',
      attempt: 1,
      passed: true,
      failed: [],
      summary: '2/2 checks passed',
    });
    expect(result.checks).toHaveLength(2);
  });

  it('throws ProbeFailed naming the failed checks and their detail', async () => {
    const stdout = `${JSON.stringify({ check: 'sshd', ok: false, detail: 'PasswordAuthentication yes' })}\n`;
    const runner = new ScriptedRunner([{ status: 'Failed', exitCode: 1, stdout, stderr: '' }]);
    const error = await checkProbeResult({ probe }, { runner }, { maxAttempts: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProbeFailed);
    expect((error as Error).name).toBe('ProbeFailed');
    expect((error as Error).message).toMatch(/sshd: PasswordAuthentication yes/);
  });

  it('throws ProbeFailed on garbage output even with exit code 0', async () => {
    const runner = new ScriptedRunner([
      { status: 'Success', exitCode: 0, stdout: 'Segmentation fault', stderr: '' },
    ]);
    await expect(checkProbeResult({ probe }, { runner }, { maxAttempts: 10 })).rejects.toThrow(
      /probe:no-output/,
    );
  });

  it('throws ProbeTimedOut when the command timed out', async () => {
    const runner = new ScriptedRunner([{ status: 'TimedOut', stdout: '', stderr: '' }]);
    await expect(checkProbeResult({ probe }, { runner }, { maxAttempts: 10 })).rejects.toThrow(ProbeTimedOut);
  });

  it('throws ProbeTimedOut when the poll bound is reached', async () => {
    const runner = new ScriptedRunner([{ status: 'Pending', stdout: '', stderr: '' }]);
    await expect(
      checkProbeResult({ probe, probeResult: { attempt: 9 } }, { runner }, { maxAttempts: 10 }),
    ).rejects.toThrow(ProbeTimedOut);
  });
});
