import { describe, expect, it } from 'vitest';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';
import { notifySuccess } from '#commons/steps/notify-success.js';
import { incidentDedupKey, openIncident } from '#commons/steps/open-incident.js';
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
  const OWN = { 'factory:channel': 'candidate', 'factory:build-id': BUILD.buildId };
  const setup = async (candidateTags: Record<string, string> = {}) => {
    const launcher = new MemoryLauncher();
    const mine = [await launchFor(launcher, BUILD.buildId), await launchFor(launcher, BUILD.buildId)];
    const other = await launchFor(launcher, 'another-build');
    const images = new MemoryImageStore([imageRecord(CANDIDATE.imageId, 0, { ...OWN, ...candidateTags })]);
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

  it.each(['InstanceNeverOnline', 'States.Timeout', 'InsufficientInstanceCapacity'])(
    'deregisters the candidate after any failure before promotion (%s)',
    async (error) => {
      const { launcher, images } = await setup();
      const result = await cleanupAfterFailure(
        { build: BUILD, candidate: CANDIDATE, error: { Error: error } },
        { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
      );
      expect(result).toMatchObject({ candidate: 'deregistered', deregisteredImageId: CANDIDATE.imageId });
      expect(images.deregistered).toEqual([CANDIDATE.imageId]);
    },
  );

  it('keeps the candidate once the build reached its promotion ($.termination present)', async () => {
    const { launcher, images } = await setup();
    const result = await cleanupAfterFailure(
      {
        build: BUILD,
        candidate: CANDIDATE,
        termination: { terminatedInstanceIds: [] },
        error: { Error: 'ParameterVersionLabelLimitExceeded' },
      },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
    );
    expect(result).toMatchObject({ candidate: 'kept', deregisteredImageId: null });
    expect(images.deregistered).toEqual([]);
  });

  it('keeps the candidate when the build holds a promotion lease, even without $.termination', async () => {
    const { launcher, images } = await setup();
    const ledger = new MemoryPromotionLedger();
    const promotionLease = await ledger.acquire(BUILD.pipeline, BUILD.channel, BUILD.executionName, 60);
    const result = await cleanupAfterFailure(
      { build: BUILD, candidate: CANDIDATE, promotionLease, error: { Error: 'ChannelPointerNotConfirmed' } },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger },
    );
    expect(result).toMatchObject({ candidate: 'kept', deregisteredImageId: null });
    expect(images.deregistered).toEqual([]);
    expect(ledger.leases.size).toBe(0);
  });

  it('finds the candidate by build id when $.candidate is absent (the bake failed after registering it)', async () => {
    // Prepare: an older image of the same build (a retried bake), another build's, and the newest of ours
    const { launcher } = await setup();
    const images = new MemoryImageStore([
      imageRecord('ami-0000000000000000a', 1, OWN),
      imageRecord('ami-0000000000000000b', 0, { ...OWN, 'factory:build-id': 'web-another0001' }),
      imageRecord(CANDIDATE.imageId, 0, OWN),
    ]);

    // Act
    const result = await cleanupAfterFailure(
      { build: BUILD, error: { Error: 'States.TaskFailed' } },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
    );

    // Assess: the newest image of the build, as FindCandidateImage would have picked
    expect(result).toMatchObject({ candidate: 'deregistered', deregisteredImageId: CANDIDATE.imageId });
    expect(images.deregistered).toEqual([CANDIDATE.imageId]);
  });

  it('reports the candidate absent when the bake left no image', async () => {
    const { launcher } = await setup();
    const result = await cleanupAfterFailure(
      { build: BUILD, error: { Error: 'States.TaskFailed' } },
      {
        launcher,
        images: new MemoryImageStore(),
        pointer: new MemoryChannelPointer(),
        ledger: new MemoryPromotionLedger(),
      },
    );
    expect(result).toMatchObject({ candidate: 'absent', deregisteredImageId: null });
  });

  it.each([
    ['protected', { 'factory:protected': 'true' }],
    ['already promoted', { 'factory:channel': 'stable' }],
    ['previous', { 'factory:channel': 'previous-stable' }],
    ['another pipeline’s', { 'factory:pipeline': 'api' }],
    ['another build’s (another stage’s execution)', { 'factory:build-id': 'web-fedcba987654' }],
  ])('never deregisters a %s candidate', async (_label, tags) => {
    const { launcher, images } = await setup(tags);
    const result = await cleanupAfterFailure(
      { build: BUILD, candidate: CANDIDATE, error: { Error: 'ProbeFailed' } },
      { launcher, images, pointer: new MemoryChannelPointer(), ledger: new MemoryPromotionLedger() },
    );
    expect(images.deregistered).toEqual([]);
    expect(result.candidate).toBe('kept');
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
  it('opens one incident keyed by the execution name, deduplicated by stage, pipeline and failing state', async () => {
    const incidents = new RecordingIncidents();
    const build = {
      ...BUILD,
      executionArn: `arn:aws:states:eu-west-1:123456789012:execution:golden-image-factory-prod:${BUILD.executionName}`,
      alerting: 'incident-manager' as const,
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
        detail: `build ${BUILD.buildId} (${BUILD.executionName}): ProbeFailed: sshd`,
        title: 'image factory: web builds fail in CheckProbeResult',
        dedupKey: 'image-factory:golden-image-factory-prod:web:CheckProbeResult',
      }),
    ]);
  });

  it('keeps the dedup key within 64 characters and scoped without an execution ARN', () => {
    const { executionArn: _omit, ...local } = BUILD;
    expect(incidentDedupKey(local, 'PrepareBuild')).toBe('image-factory:local:web:PrepareBuild');
    expect(
      incidentDedupKey({ ...BUILD, pipeline: 'p'.repeat(32) }, 'CheckProbeResult').length,
    ).toBeLessThanOrEqual(64);
  });
});
