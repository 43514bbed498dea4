import { describe, expect, it } from 'vitest';
import type { FactoryEvent } from '#commons/core/events.js';
import type { StateRun } from '#commons/core/execution-history.js';
import { SlackDeliveryFailed } from '#commons/errors.js';
import type { ExecutionHistory } from '#commons/ports.js';
import { LOCAL_COST_NOTE } from '#commons/report.js';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';
import { notifySuccess } from '#commons/steps/notify-success.js';
import { incidentDedupKey, openIncident } from '#commons/steps/open-incident.js';
import { delivered, eventProblems } from '../../event-schemas.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryLauncher,
  MemoryPromotionLedger,
  RecordingEventPublisher,
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

  it('keeps the candidate a failed PromoteImage may have pointed the channel at ($.promotionLease present)', async () => {
    // Prepare: the pointer moved to the candidate, then PromoteImage failed before retagging it.
    const { launcher, images } = await setup();
    const pointer = new MemoryChannelPointer();
    await pointer.point(BUILD.pipeline, BUILD.channel, CANDIDATE.imageId);
    const ledger = new MemoryPromotionLedger();
    const promotionLease = await ledger.acquire(BUILD.pipeline, BUILD.channel, BUILD.executionName, 1800);

    // Act: a state document without $.termination
    const result = await cleanupAfterFailure(
      { build: BUILD, candidate: CANDIDATE, promotionLease, error: { Error: 'AccessDenied' } },
      { launcher, images, pointer, ledger },
    );

    // Assess: kept, and tagged as the channel's current image from the pointer
    expect(result).toMatchObject({ candidate: 'kept', deregisteredImageId: null });
    expect(images.deregistered).toEqual([]);
    expect(images.images[0]?.tags['factory:channel']).toBe(BUILD.channel);
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
    expect(message?.links?.[0]?.url).toContain(
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
      { notifier, events: new RecordingEventPublisher() },
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
    const events = new RecordingEventPublisher();
    await notifyFailure(
      { build: BUILD, bake: {}, error: { Error: 'States.TaskFailed', Cause: 'packer exited 1' } },
      { notifier, events },
    );
    await notifyFailure(
      { pipeline: 'web', error: { Error: 'InvalidInput', Cause: 'baseImage: …' } },
      { notifier, events },
    );
    expect(notifier.sent.map((m) => m.title)).toEqual([
      'web: build failed in FindCandidateImage',
      'web: build failed in PrepareBuild',
    ]);
    // No build, no Build Failed: the input was refused before a build existed.
    expect(events.published.map((e) => e.detail.buildId)).toEqual([BUILD.buildId]);
  });

  it('publishes Build Failed with the error, the failed state and the candidate, valid against its schema', async () => {
    const events = new RecordingEventPublisher();

    await notifyFailure(
      {
        build: BUILD,
        candidate: CANDIDATE,
        probeResult: { status: 'InProgress', checks: [], failed: [] },
        error: { Error: 'ProbeFailed', Cause: 'sshd: PasswordAuthentication yes' },
      },
      { notifier: new RecordingNotifier(), events },
    );

    expect(events.published).toHaveLength(1);
    expect(events.published[0]).toMatchObject({
      detailType: 'Build Failed',
      detail: {
        buildId: BUILD.buildId,
        imageId: CANDIDATE.imageId,
        probe: null,
        error: { name: 'ProbeFailed', cause: 'sshd: PasswordAuthentication yes' },
        failedState: 'CheckProbeResult',
      },
    });
    expect(eventProblems(delivered(events.published[0] as FactoryEvent))).toEqual([]);
  });

  it('still sends the report when the event is not published, then throws EventPublishFailed (retried)', async () => {
    const notifier = new RecordingNotifier();
    const events = new RecordingEventPublisher();
    events.failing = 1;

    await expect(
      notifyFailure({ build: BUILD, error: { Error: 'ProbeFailed' } }, { notifier, events }),
    ).rejects.toMatchObject({ name: 'EventPublishFailed' });
    expect(notifier.sent).toHaveLength(1);
  });

  it('throws the publication error rather than the notifier error when both fail', async () => {
    const events = new RecordingEventPublisher();
    events.failing = 1;
    const notifier = {
      notify: async () => {
        throw new SlackDeliveryFailed('slack answered 500');
      },
    };

    await expect(
      notifyFailure({ build: BUILD, error: { Error: 'ProbeFailed' } }, { notifier, events }),
    ).rejects.toMatchObject({ name: 'EventPublishFailed' });
  });
});

describe('notifySuccess / notifyFailure: time, cost and links from the execution history', () => {
  const COST = {
    lambdaMemoryGb: 0.25,
    testInstanceType: 't3.small',
    builderInstanceType: 't3.small',
    volumeGb: 8,
    fargate: { vcpu: 1, gb: 2, arch: 'X86_64' as const },
  };
  const START = Date.parse(BUILD.startedAt);
  const RUNS: StateRun[] = [
    { name: 'PrepareBuild', type: 'Task', enteredAt: START, exitedAt: START + 1000 },
    { name: 'BakeImage', type: 'Task', enteredAt: START + 1000, exitedAt: START + 601_000 },
    { name: 'NotifySuccess', type: 'Task', enteredAt: START + 601_000 },
  ];
  const SUCCESS = {
    build: BUILD,
    candidate: CANDIDATE,
    promotion: {
      outcome: 'promoted' as const,
      channel: 'stable',
      imageId: CANDIDATE.imageId,
      previousImageId: null,
      parameterName: '/p',
      parameterVersion: 1,
    },
  };
  /** A history port answering `runs`, or failing with an error named `failure`. */
  const history = (failure?: string): ExecutionHistory & { asked: string[] } => {
    const asked: string[] = [];
    return {
      asked,
      runsOf: async (arn) => {
        asked.push(arn);
        if (failure) throw Object.assign(new Error('no'), { name: failure });
        return { runs: RUNS, startedAt: START };
      },
    };
  };
  const byLabel = (notifier: RecordingNotifier) =>
    Object.fromEntries(notifier.sent[0]?.fields.map((f) => [f.label, f.value]) ?? []);

  it('AWS: reads the execution named by the build, reports time per phase and cost, links execution and image', async () => {
    // Prepare
    const notifier = new RecordingNotifier();
    const port = history();

    // Act
    await notifySuccess(
      SUCCESS,
      { notifier, history: port },
      {
        now: () => new Date(START + 602_000),
        backend: { kind: 'aws', cost: COST },
      },
    );

    // Assess
    expect(port.asked).toEqual([BUILD.executionArn]);
    expect(byLabel(notifier)).toMatchObject({
      Time: '10m 02s (prepare 1s, bake 10m 00s, notify 1s)',
      'Estimated cost': expect.stringMatching(
        /^\$0\.\d{4} \(Fargate \$0\.0082, .*\) at us-east-1 list prices$/,
      ),
    });
    expect(notifier.sent[0]?.links?.map((link) => link.label)).toEqual(['Execution', 'Image']);
    expect(notifier.sent[0]?.links?.[1]?.url).toBe(
      `https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#ImageDetails:imageId=${CANDIDATE.imageId}`,
    );
  });

  it('sends the report when the history cannot be read, saying why', async () => {
    const notifier = new RecordingNotifier();

    await notifySuccess(
      SUCCESS,
      { notifier, history: history('AccessDeniedException') },
      {
        now: () => new Date(START + 602_000),
        backend: { kind: 'aws', cost: COST },
      },
    );

    expect(byLabel(notifier)).toEqual(
      expect.objectContaining({
        Time: '10m 02s (time per state and cost unavailable: history not read (AccessDeniedException))',
      }),
    );
    expect(byLabel(notifier)['Estimated cost']).toBeUndefined();
  });

  it('local: local times, no AWS cost and no console links', async () => {
    const notifier = new RecordingNotifier();
    const local = {
      ...BUILD,
      executionArn: `arn:aws:states:local:000000000000:execution:image-factory:${BUILD.executionName}`,
    };

    await notifySuccess(
      { ...SUCCESS, build: local },
      { notifier, history: history() },
      {
        now: () => new Date(START + 602_000),
        backend: { kind: 'local' },
      },
    );

    expect(byLabel(notifier)).toMatchObject({
      Time: expect.stringMatching(/, local$/),
      Cost: LOCAL_COST_NOTE,
    });
    expect(notifier.sent[0]?.links).toBeUndefined();
  });

  it('failure: the time and cost so far; without a build (PrepareBuild failed) it says there is no history', async () => {
    const notifier = new RecordingNotifier();
    const events = new RecordingEventPublisher();
    const options = { now: () => new Date(START + 602_000), backend: { kind: 'aws' as const, cost: COST } };

    await notifyFailure(
      { build: BUILD, error: { Error: 'ProbeFailed' } },
      { notifier, events, history: history() },
      options,
    );
    await notifyFailure(
      { pipeline: 'web', error: { Error: 'InvalidInput' } },
      { notifier, events, history: history() },
      options,
    );

    expect(notifier.sent[0]?.fields.map((f) => f.label)).toEqual(
      expect.arrayContaining(['Time', 'Estimated cost']),
    );
    expect(notifier.sent[1]?.fields).toContainEqual({
      label: 'Time',
      value: 'unknown (time per state and cost unavailable: no execution history)',
    });
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
