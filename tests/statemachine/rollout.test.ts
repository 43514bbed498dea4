/**
 * Path matrix of the rollout after promotion (issue 10 point 6): the ASL executed with the real
 * RolloutChannel step over an in-memory port (harness `ScalingGroupsDouble`), for a channel
 * without rollout, a rollout that starts refreshes, one that partly fails, a step that fails as a
 * whole, and the paths that must never roll out.
 */
import { describe, expect, it } from 'vitest';
import { NotifySuccessInput } from '#commons/handler-inputs.js';
import { buildSuccessNotification } from '#commons/report.js';
import {
  DISTRIBUTION,
  happyPath,
  inputOf,
  type JsonObject,
  namedError,
  ROLLOUT,
  regionImageId,
  rolloutWith,
  runPipeline,
  ScalingGroupsDouble,
  type TaskDouble,
} from './harness.js';

/** PrepareBuild of a channel that rolls out (the happy path's build plus `rollout`). */
const withRollout: TaskDouble = async (request, call) => ({
  ...((await happyPath().PrepareBuild(request, call)) as JsonObject),
  rollout: structuredClone(ROLLOUT),
});

const throwing =
  (name: string): TaskDouble =>
  () => {
    throw namedError(name);
  };

/** PromoteImage that promoted every region of the happy path's distribution. */
const promotedEverywhere: TaskDouble = async (input, call) => ({
  ...((await happyPath().PromoteImage(input, call)) as JsonObject),
  regions: (DISTRIBUTION.regions as JsonObject[]).map((target) => ({
    region: target.region as string,
    outcome: 'promoted',
    imageId: regionImageId(target.region as string),
    previousImageId: null,
    parameterName: '/image-factory/web/stable',
    parameterVersion: 7,
  })),
});

/** The Slack report of NotifySuccess's input (the harness's retention double is not of the real shape). */
const slackReport = (input: JsonObject) =>
  buildSuccessNotification(NotifySuccessInput.parse({ ...input, retention: undefined }), new Date());

const TAIL = [
  'ApplyRetention',
  'IsRolloutConfigured',
  'RolloutChannel',
  'NotifySuccess',
  'PipelineSucceeded',
];

describe('rollout paths', () => {
  it('rollout off (no $.build.rollout): nothing is refreshed and the report has no rollout', async () => {
    const groups = new ScalingGroupsDouble({ 'us-east-1': ['web-stable-blue'] });

    const run = await runPipeline({ RolloutChannel: rolloutWith(groups) });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(-4)).toEqual([
      'ApplyRetention',
      'IsRolloutConfigured',
      'NotifySuccess',
      'PipelineSucceeded',
    ]);
    expect(run.calls.RolloutChannel).toBeUndefined();
    expect(groups.refreshes).toEqual([]);
    expect(inputOf(run, 'NotifySuccess')).not.toHaveProperty('rollout');
  });

  it('started: every group tagged with the channel in every promoted region is refreshed with the preferences', async () => {
    // Prepare: the distribution promoted three regions; the groups of a fourth are not searched.
    const groups = new ScalingGroupsDouble({
      'us-east-1': ['web-stable-blue', 'web-stable-green'],
      'eu-west-1': ['web-stable-eu'],
      'ap-southeast-2': [],
      'sa-east-1': ['never-promoted-here'],
    });

    // Act
    const run = await runPipeline({
      PrepareBuild: withRollout,
      PromoteImage: promotedEverywhere,
      RolloutChannel: rolloutWith(groups),
    });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(-TAIL.length)).toEqual(TAIL);
    expect(groups.refreshes).toEqual(
      ['us-east-1/web-stable-blue', 'us-east-1/web-stable-green', 'eu-west-1/web-stable-eu'].map((name) => ({
        region: name.split('/')[0],
        group: name.split('/')[1],
        preferences: { MinHealthyPercentage: 90, InstanceWarmup: 60 },
      })),
    );
    const rollout = inputOf(run, 'NotifySuccess').rollout as JsonObject;
    expect(rollout).toMatchObject({
      outcome: 'started',
      tag: { key: 'factory:channel', value: 'web/stable' },
      regionErrors: [],
    });
    expect(rollout.groups).toHaveLength(3);
    // NotifySuccess's input parses, and the Slack report says what happened.
    const report = slackReport(inputOf(run, 'NotifySuccess'));
    expect(report.fields.find((field) => field.label === 'Rollout')?.value).toBe('3 refresh(es) started');
  });

  it('regions the promotion left alone (superseded there) are not refreshed', async () => {
    const groups = new ScalingGroupsDouble({ 'us-east-1': ['home'], 'eu-west-1': ['eu'] });
    const promote: TaskDouble = async (input, call) => ({
      ...((await happyPath().PromoteImage(input, call)) as JsonObject),
      regions: [
        {
          region: 'us-east-1',
          outcome: 'promoted',
          imageId: 'ami-0c0ffee0c0ffee001',
          previousImageId: null,
          parameterName: '/p',
          parameterVersion: 2,
        },
        {
          region: 'eu-west-1',
          outcome: 'superseded',
          imageId: 'ami-0c0ffee0c0ffee002',
          previousImageId: null,
          parameterName: '/p',
          parameterVersion: 5,
        },
      ],
    });

    const run = await runPipeline({
      PrepareBuild: withRollout,
      PromoteImage: promote,
      RolloutChannel: rolloutWith(groups),
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(groups.refreshes.map((refresh) => `${refresh.region}/${refresh.group}`)).toEqual([
      'us-east-1/home',
    ]);
    expect(inputOf(run, 'NotifySuccess').rollout).toMatchObject({
      regions: ['us-east-1'],
      outcome: 'started',
    });
  });

  it('partial: a refresh already in progress, a refused group and an unsearchable region are reported, the build succeeds', async () => {
    const groups = new ScalingGroupsDouble(
      { 'us-east-1': ['busy', 'refused', 'fine'], 'eu-west-1': ['eu'] },
      {
        'us-east-1/busy': 'in-progress',
        'us-east-1/refused': namedError('ResourceContention', 'pending update'),
        'eu-west-1': namedError('Throttling', 'rate exceeded'),
      },
    );

    const run = await runPipeline({
      PrepareBuild: withRollout,
      PromoteImage: promotedEverywhere,
      RolloutChannel: rolloutWith(groups),
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited).not.toContain('RolloutIncomplete');
    expect(run.visited).not.toContain('CleanupAfterFailure');
    expect(inputOf(run, 'NotifySuccess').rollout).toMatchObject({
      outcome: 'partial',
      groups: [
        { region: 'us-east-1', group: 'busy', outcome: 'in-progress' },
        {
          region: 'us-east-1',
          group: 'refused',
          outcome: 'failed',
          error: 'ResourceContention: pending update',
        },
        { region: 'us-east-1', group: 'fine', outcome: 'started' },
      ],
      regionErrors: [{ region: 'eu-west-1', error: 'Throttling: rate exceeded' }],
    });
    expect(groups.refreshes.map((refresh) => refresh.group)).toEqual(['fine']);
  });

  it('step failing as a whole: a warning (RolloutIncomplete), never cleanup, the build succeeds', async () => {
    const run = await runPipeline({ PrepareBuild: withRollout, RolloutChannel: throwing('AccessDenied') });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(-4)).toEqual([
      'RolloutChannel',
      'RolloutIncomplete',
      'NotifySuccess',
      'PipelineSucceeded',
    ]);
    expect(run.visited).not.toContain('CleanupAfterFailure');
    const input = inputOf(run, 'NotifySuccess');
    expect(input.rollout).toEqual({
      outcome: 'partial',
      groups: [],
      regionErrors: [],
      error: { Error: 'AccessDenied', Cause: 'AccessDenied (test double)' },
    });
    const report = slackReport(input);
    expect(report.fields.find((field) => field.label === 'Rollout')?.value).toMatch(/^FAILED \(AccessDenied/);
    expect(run.output?.promotion).toMatchObject({ outcome: 'promoted' });
  });

  it('a Lambda error that never clears: the standard retrier is bounded, then RolloutIncomplete', async () => {
    const run = await runPipeline({
      PrepareBuild: withRollout,
      RolloutChannel: throwing('Lambda.ServiceException'),
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.calls.RolloutChannel).toHaveLength(7);
    expect(inputOf(run, 'NotifySuccess').rollout).toMatchObject({
      outcome: 'partial',
      error: { Error: 'Lambda.ServiceException' },
    });
  });

  it('retention failing first still rolls out (RetentionIncomplete → IsRolloutConfigured)', async () => {
    const groups = new ScalingGroupsDouble({ 'us-east-1': ['web-stable-blue'] });

    const run = await runPipeline({
      PrepareBuild: withRollout,
      ApplyRetention: throwing('AccessDenied'),
      RolloutChannel: rolloutWith(groups),
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(-5)).toEqual([
      'RetentionIncomplete',
      'IsRolloutConfigured',
      'RolloutChannel',
      'NotifySuccess',
      'PipelineSucceeded',
    ]);
    expect(groups.refreshes).toHaveLength(1);
  });

  it('never on the superseded path: a superseded build refreshes nothing', async () => {
    const groups = new ScalingGroupsDouble({ 'us-east-1': ['web-stable-blue'] });
    const superseded: TaskDouble = async (input, call) => ({
      ...((await happyPath().PromoteImage(input, call)) as JsonObject),
      outcome: 'superseded',
      currentImageId: 'ami-0d0d0d0d0d0d0d0d0',
    });

    const run = await runPipeline({
      PrepareBuild: withRollout,
      PromoteImage: superseded,
      RolloutChannel: rolloutWith(groups),
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited).not.toContain('IsRolloutConfigured');
    expect(run.calls.RolloutChannel).toBeUndefined();
    expect(groups.refreshes).toEqual([]);
  });

  it('never after a failure: a build that fails before promotion refreshes nothing', async () => {
    const groups = new ScalingGroupsDouble({ 'us-east-1': ['web-stable-blue'] });

    const run = await runPipeline({
      PrepareBuild: withRollout,
      CheckProbeResult: throwing('ProbeFailed'),
      RolloutChannel: rolloutWith(groups),
    });

    expect(run.status).toBe('FAILED');
    expect(run.calls.RolloutChannel).toBeUndefined();
    expect(groups.refreshes).toEqual([]);
  });
});
