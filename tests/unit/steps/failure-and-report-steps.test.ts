import { describe, expect, it } from 'vitest';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';
import { notifySuccess } from '#commons/steps/notify-success.js';
import { openIncident } from '#commons/steps/open-incident.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryLauncher,
  MemoryPromotionLedger,
  RecordingIncidents,
  RecordingNotifier,
} from '../helpers/fakes.js';
import { BUILD, CANDIDATE, imageRecord, NOW } from '../helpers/fixtures.js';

const launchFor = async (launcher: MemoryLauncher, buildId: string) =>
  (
    await launcher.launch({
      imageId: 'ami-1',
      pipeline: 'web',
      buildId,
      executionName: 'e',
      idempotencyToken: 't',
    })
  ).instanceId;

describe('cleanupAfterFailure', () => {
  const setup = async (candidateTags: Record<string, string> = { 'factory:channel': 'candidate' }) => {
    const launcher = new MemoryLauncher();
    const mine = [await launchFor(launcher, BUILD.buildId), await launchFor(launcher, BUILD.buildId)];
    const other = await launchFor(launcher, 'another-build');
    const images = new MemoryImageStore([imageRecord(CANDIDATE.imageId, 0, candidateTags)]);
    return { launcher, images, mine, other };
  };

  it('terminates every test instance of the build and deregisters a candidate that failed the probe', async () => {
    const { launcher, images, mine, other } = await setup();
    const result = await cleanupAfterFailure(
      { build: BUILD, candidate: CANDIDATE, error: { Error: 'ProbeFailed', Cause: 'sshd' } },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
    );
    expect(result).toEqual({
      terminatedInstanceIds: mine,
      deregisteredImageId: CANDIDATE.imageId,
      snapshots: [{ snapshotId: 'snap-0ccccccccccccccc1', outcome: 'deleted' }],
      candidate: 'deregistered',
    });
    expect(launcher.live.has(other)).toBe(true);
  });

  it('also treats ProbeTimedOut as a failed probe', async () => {
    const { launcher, images } = await setup();
    const result = await cleanupAfterFailure(
      { build: BUILD, candidate: CANDIDATE, error: { Error: 'ProbeTimedOut' } },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
    );
    expect(result.candidate).toBe('deregistered');
  });

  it('keeps the candidate when the failure was not the probe', async () => {
    const { launcher, images } = await setup();
    const result = await cleanupAfterFailure(
      { build: BUILD, candidate: CANDIDATE, error: { Error: 'InstanceNeverOnline' } },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
    );
    expect(result).toMatchObject({ candidate: 'kept', deregisteredImageId: null });
    expect(images.deregistered).toEqual([]);
  });

  it.each([
    ['protected', { 'factory:protected': 'true' }],
    ['already promoted', { 'factory:channel': 'stable' }],
    ['another pipeline’s', { 'factory:pipeline': 'api' }],
  ])('never deregisters a %s candidate', async (_label, tags) => {
    const { launcher, images } = await setup(tags);
    await cleanupAfterFailure(
      { build: BUILD, candidate: CANDIDATE, error: { Error: 'ProbeFailed' } },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
    );
    expect(images.deregistered).toEqual([]);
  });

  it('has nothing to clean when PrepareBuild failed', async () => {
    const launcher = new MemoryLauncher();
    const result = await cleanupAfterFailure(
      { error: { Error: 'InvalidInput' } },
      {
        launcher,
        images: new MemoryImageStore(),
        pointer: new MemoryChannelPointer(),
        ledger: new MemoryPromotionLedger(),
      },
    );
    expect(result).toEqual({
      terminatedInstanceIds: [],
      deregisteredImageId: null,
      snapshots: [],
      candidate: 'absent',
    });
  });

  it('propagates backend errors (never swallowed)', async () => {
    const launcher = new MemoryLauncher();
    launcher.listByBuildId = async () => {
      throw new Error('throttled');
    };
    await expect(
      cleanupAfterFailure(
        { build: BUILD },
        {
          launcher,
          images: new MemoryImageStore(),
          pointer: new MemoryChannelPointer(),
          ledger: new MemoryPromotionLedger(),
        },
      ),
    ).rejects.toThrow('throttled');
  });
});

describe('notifySuccess / notifyFailure', () => {
  const promotion = {
    outcome: 'promoted' as const,
    channel: 'stable',
    imageId: CANDIDATE.imageId,
    previousImageId: 'ami-0bbbbbbbbbbbbbbbb',
    parameterName: '/p',
    parameterVersion: 7,
  };

  it('reports pipeline, images, commit, duration, probe and retention with a console link', async () => {
    const notifier = new RecordingNotifier();
    await notifySuccess(
      {
        build: BUILD,
        candidate: CANDIDATE,
        promotion,
        probeResult: {
          status: 'Success',
          attempt: 2,
          checks: [{ name: 'a', ok: true, detail: '' }],
          passed: true,
          failed: [],
          summary: '1/1 checks passed',
        },
        retention: {
          dryRun: false,
          outcomes: [
            {
              imageId: 'ami-1',
              action: 'deregister',
              reason: 'expired',
              outcome: 'deregistered',
              snapshots: [],
            },
          ],
        },
      },
      { notifier },
      { now: () => NOW },
    );
    const [message] = notifier.sent;
    expect(message?.outcome).toBe('success');
    expect(message?.title).toBe(`web: ${CANDIDATE.imageId} promoted to stable`);
    expect(Object.fromEntries(message?.fields.map((f) => [f.label, f.value]) ?? [])).toMatchObject({
      Pipeline: 'web',
      'Base image': 'ubuntu-24.04 (ami-0aaaaaaaaaaaaaaaa)',
      'New image': `${CANDIDATE.imageId} ${CANDIDATE.name}`,
      Commit: BUILD.commit,
      Duration: '1h 00m 00s',
      Probe: '1/1 checks passed',
      Retention: '1 deregistered, 0 kept',
    });
    expect(message?.link?.url).toContain(
      'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/',
    );
  });

  it('reports the failed state and cause', async () => {
    const notifier = new RecordingNotifier();
    await notifyFailure(
      {
        build: BUILD,
        candidate: CANDIDATE,
        error: { Error: 'ProbeFailed', Cause: 'sshd: PasswordAuthentication yes' },
      },
      { notifier },
    );
    const [message] = notifier.sent;
    expect(message).toMatchObject({
      outcome: 'failure',
      title: 'web: build failed in CheckProbeResult',
      detail: 'sshd: PasswordAuthentication yes',
    });
  });

  it('infers the failed state from progress for AWS errors, and works without a build', async () => {
    const notifier = new RecordingNotifier();
    await notifyFailure(
      { build: BUILD, bake: {}, error: { Error: 'States.TaskFailed', Cause: 'packer exited 1' } },
      { notifier },
    );
    await notifyFailure(
      { pipeline: 'web', error: { Error: 'InvalidInput', Cause: 'baseImage: …' } },
      { notifier },
    );
    expect(notifier.sent.map((m) => m.title)).toEqual([
      'web: build failed in FindCandidateImage',
      'web: build failed in PrepareBuild',
    ]);
  });
});

describe('openIncident', () => {
  it('opens one incident keyed by the execution name', async () => {
    const incidents = new RecordingIncidents();
    const build = {
      ...BUILD,
      incidentResponsePlanArn: 'arn:aws:ssm-incidents::123456789012:response-plan/image-factory',
    };
    const result = await openIncident(
      { build, error: { Error: 'ProbeFailed', Cause: 'sshd' } },
      { incidents },
    );
    expect(result.incidentArn).toContain(BUILD.executionName);
    expect(incidents.opened).toEqual([
      expect.objectContaining({
        responsePlanArn: build.incidentResponsePlanArn,
        clientToken: BUILD.executionName,
        impact: 3,
        detail: 'ProbeFailed: sshd',
        title: `image factory: web build ${BUILD.buildId} failed in CheckProbeResult`,
      }),
    ]);
  });
});
