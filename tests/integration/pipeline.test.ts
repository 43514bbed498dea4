/**
 * The whole pipeline against moto: `statemachines/image-factory.asl.yaml` executed by
 * aws-local-stepfunctions, every Lambda Task served by the REAL handler (`functions/<key>.ts`,
 * found through the state's function key) invoked in-process with a Lambda context, talking to moto
 * through the MotoGapProxy; `BakeImage` (Fargate Packer) is the PackerBakeDouble, which registers the
 * AMI in moto the way Packer does. Assertions are on the execution (states, outcome) and on the
 * emulator's final state (instances, images, snapshots, parameters), plus what Slack and Incident
 * Manager (doubles) received.
 */
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { executionName } from '#commons/core/build-key.js';
import { ANY_INSTANCE } from './doubles/moto-gap-proxy.js';
import { bakeImageLikePacker } from './doubles/packer-bake-double.js';
import type { SlackWebhookDouble } from './doubles/slack-webhook-double.js';
import { buildDocument, FAILING_PROBE, PASSING_PROBE } from './fixtures/build.js';
import { PUBLISHED } from './fixtures/image-catalog.js';
import {
  type Run,
  type RunInput,
  runPipelineOnMoto,
  startPipelineSide,
  stopPipelineSide,
} from './fixtures/pipeline-run.js';
import {
  type AwsSide,
  invoke,
  type LambdaHandler,
  liveInstances,
  ownImages,
  SETUP_TIMEOUT_MS,
  stackSettings,
  tagsOf,
} from './harness.js';

const { CHANNEL_PARAMETER_PREFIX: PREFIX } = stackSettings();
const PLAN = stackSettings().INCIDENT_RESPONSE_PLAN_ARN;
const SOURCE = PUBLISHED['ubuntu-24.04'].current;

let aws: AwsSide;
let slack: SlackWebhookDouble;
let handlers: Map<string, LambdaHandler>;

/** Execute the ASL once for `input` (see fixtures/pipeline-run.ts). */
const runPipeline = (input: RunInput, options: { registersImage?: boolean } = {}): Promise<Run> =>
  runPipelineOnMoto(aws, handlers, SOURCE.imageId, input, options);

const imagesOf = async (pipeline: string) =>
  (await ownImages(aws.ec2)).filter((image) => tagsOf(image)['factory:pipeline'] === pipeline);

const liveInstancesOf = async (pipeline: string) =>
  (await liveInstances(aws.ec2)).filter((instance) => tagsOf(instance)['factory:pipeline'] === pipeline);

const channelHistory = async (pipeline: string): Promise<string[]> => {
  try {
    const { Parameters } = await aws.ssm.send(
      new GetParameterHistoryCommand({ Name: `${PREFIX}/${pipeline}/stable` }),
    );
    return (Parameters ?? []).map((p) => p.Value ?? '');
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return [];
    throw error;
  }
};

const messagesSince = (count: number): string[] => slack.received.slice(count).map((m) => JSON.stringify(m));

beforeAll(async () => {
  ({ aws, slack, handlers } = await startPipelineSide(
    { parameter: BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64, imageId: SOURCE.imageId },
    {
      INCIDENT_RESPONSE_PLAN_ARN: PLAN,
      RETENTION_MAX_AGE_DAYS: '30',
      RETENTION_KEEP_LATEST: '3',
      RETENTION_DRY_RUN: 'false',
    },
  ));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await stopPipelineSide({ aws, slack });
});

describe('image factory pipeline on moto', () => {
  it('bakes, probes, promotes and cleans up: success path', async () => {
    // Prepare: a previous build of `web` (from the vendor's previous release) is already promoted to stable.
    const older = { sourceCreatedAt: PUBLISHED['ubuntu-24.04'].previous.createdAt, sequence: 1 };
    const previous = await bakeImageLikePacker(
      aws.ec2,
      buildDocument({ pipeline: 'web', commit: '1'.repeat(40), order: older }),
    );
    const promote = handlers.get('promote-image') as LambdaHandler;
    await invoke(promote, {
      build: buildDocument({ pipeline: 'web', commit: '1'.repeat(40), order: older }),
      candidate: {
        imageId: previous.imageId,
        name: 'previous',
        createdAt: '2026-11-01T00:00:00.000Z',
        snapshotIds: [],
      },
    });
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 1);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [
      { status: 'NotYet' },
      { status: 'InProgress' },
      { status: 'Success', stdout: PASSING_PROBE },
    ]);
    slack.respondWith(200);
    const slackBefore = slack.received.length;

    // Act
    const run = await runPipeline({ pipeline: 'web', baseImage: 'ubuntu-24.04' });

    // Assess: the execution
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.filter((s) => s === 'CheckInstanceOnline')).toHaveLength(2);
    expect(run.retries('CheckProbeResult')).toBe(1);
    expect(run.visited).not.toContain('CleanupAfterFailure');
    expect(run.visited.at(-1)).toBe('PipelineSucceeded');

    // Assess: the emulator
    const candidateId = (run.output?.candidate as { imageId?: string } | undefined)?.imageId ?? '';
    const images = new Map((await imagesOf('web')).map((image) => [image.ImageId, tagsOf(image)]));
    expect(images.get(candidateId)).toMatchObject({
      'factory:channel': 'stable',
      'factory:build-id': (run.output?.build as { buildId?: string } | undefined)?.buildId,
      'factory:source-ami': SOURCE.imageId,
      'factory:source-ami-name': SOURCE.name,
      'factory:execution': executionName({
        pipeline: 'web',
        channel: 'stable',
        sourceImageId: SOURCE.imageId,
      }),
    });
    expect(images.get(previous.imageId)?.['factory:channel']).toBe('previous-stable');
    expect(await liveInstancesOf('web')).toEqual([]);
    expect(await channelHistory('web')).toEqual([previous.imageId, candidateId]);
    const report = messagesSince(slackBefore);
    expect(report).toHaveLength(1);
    expect(report[0]).toContain(candidateId);
  });

  it('bakes a pushed commit: the image records the commit it was built from', async () => {
    // Prepare
    const commit = '0f3e2d1c0b0a09080706050403020100f0e0d0c0';
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 0);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Success', stdout: PASSING_PROBE }]);
    slack.respondWith(200);

    // Act
    const run = await runPipeline({
      pipeline: 'pushed',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'base',
      commit,
      trigger: 'git-push',
      repository: 'https://github.com/acme/golden-images.git',
    });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    const [image] = await imagesOf('pushed');
    expect(tagsOf(image ?? {})).toMatchObject({ 'factory:commit': commit, 'factory:channel': 'stable' });
  });

  it('fails with CandidateNotFound when the bake registered no AMI; nothing launched, incident opened', async () => {
    // Prepare
    slack.respondWith(200);
    const slackBefore = slack.received.length;
    const incidentsBefore = aws.proxy.incidents.started.length;

    // Act
    const run = await runPipeline(
      { pipeline: 'nobake', baseImage: 'ubuntu-24.04', imageDefinition: 'web' },
      { registersImage: false },
    );

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('CandidateNotFound');
    expect(run.visited).not.toContain('LaunchTestInstance');
    expect(run.visited).toEqual(
      expect.arrayContaining(['CleanupAfterFailure', 'NotifyFailure', 'OpenIncident']),
    );
    expect(await liveInstancesOf('nobake')).toEqual([]);
    expect(await imagesOf('nobake')).toEqual([]);
    expect(await channelHistory('nobake')).toEqual([]);
    expect(messagesSince(slackBefore).join()).toContain('CandidateNotFound');
    expect(aws.proxy.incidents.started.slice(incidentsBefore)).toHaveLength(1);
  });

  it('fails with ProbeFailed: the test instance is terminated, the candidate and its snapshot are deleted', async () => {
    // Prepare
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 0);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Failed', stdout: FAILING_PROBE }]);
    slack.respondWith(200);

    // Act
    const run = await runPipeline({
      pipeline: 'badprobe',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'web',
    });

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('ProbeFailed');
    expect(String(run.error?.Cause)).toContain('no-authorized-keys');
    expect(run.visited).not.toContain('PromoteImage');
    const cleanup = run.visited.indexOf('CleanupAfterFailure');
    expect(cleanup).toBeGreaterThan(run.visited.indexOf('CheckProbeResult'));
    expect(await liveInstancesOf('badprobe')).toEqual([]);
    expect(await imagesOf('badprobe')).toEqual([]);
    const { Snapshots } = await aws.ec2.send(
      new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:factory:pipeline', Values: ['badprobe'] }] }),
    );
    expect(Snapshots).toEqual([]);
    expect(await channelHistory('badprobe')).toEqual([]);
  });

  it('fails with InstanceNeverOnline: the instance is terminated, the untested candidate deregistered', async () => {
    // Prepare
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, Number.POSITIVE_INFINITY);
    slack.respondWith(200);

    // Act
    const run = await runPipeline({ pipeline: 'offline', baseImage: 'ubuntu-24.04', imageDefinition: 'web' });

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('InstanceNeverOnline');
    expect(run.visited.filter((s) => s === 'CheckInstanceOnline')).toHaveLength(3);
    expect(await liveInstancesOf('offline')).toEqual([]);
    // A failure before promotion leaves no candidate (CleanupAfterFailure deregisters it)
    expect(await imagesOf('offline')).toEqual([]);
  });

  it('fails with the original error when the cleanup itself keeps failing: retried, then reported', async () => {
    // Prepare
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 0);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Failed', stdout: FAILING_PROBE }]);
    aws.proxy.faults.add({
      service: 'ec2',
      operation: 'TerminateInstances',
      status: 403,
      code: 'UnauthorizedOperation',
    });
    slack.respondWith(200);
    const slackBefore = slack.received.length;

    // Act
    const run = await runPipeline({ pipeline: 'stuck', baseImage: 'ubuntu-24.04', imageDefinition: 'web' });
    aws.proxy.faults.clear();

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('ProbeFailed');
    expect(run.retries('CleanupAfterFailure')).toBe(3);
    expect(run.visited).toEqual(expect.arrayContaining(['NotifyFailure', 'PipelineFailed']));
    expect((await liveInstancesOf('stuck')).length).toBe(1);
    // The operators must learn that a test instance may be left running (ASL: NotifyFailure
    // "Reports $.error (and $.cleanup) to Slack").
    const report = messagesSince(slackBefore).join();
    expect(report).toContain('ProbeFailed');
    expect(report).toContain('UnauthorizedOperation');
  });

  it('still succeeds when Slack answers 500', async () => {
    // Prepare
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 0);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Success', stdout: PASSING_PROBE }]);
    slack.respondWith(500);

    // Act
    const run = await runPipeline({ pipeline: 'quiet', baseImage: 'ubuntu-24.04', imageDefinition: 'web' });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output?.notificationError).toMatchObject({ Error: 'SlackDeliveryFailed' });
    expect((await channelHistory('quiet')).length).toBe(1);
    expect(await liveInstancesOf('quiet')).toEqual([]);
  });

  it('fails with the original error, after cleanup, when Slack is unreachable and Incident Manager refuses', async () => {
    // Prepare
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Failed', stdout: FAILING_PROBE }]);
    aws.proxy.incidents.failWith();
    await slack.close();

    // Act
    const run = await runPipeline({ pipeline: 'storm', baseImage: 'ubuntu-24.04', imageDefinition: 'web' });

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('ProbeFailed');
    expect(run.visited).toEqual(
      expect.arrayContaining(['CleanupAfterFailure', 'NotifyFailure', 'OpenIncident', 'PipelineFailed']),
    );
    expect(await liveInstancesOf('storm')).toEqual([]);
    expect(await imagesOf('storm')).toEqual([]);
  });
});
