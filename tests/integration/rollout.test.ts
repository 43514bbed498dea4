/**
 * Issue 10 point 6 on the emulator: after a promotion in two regions, `rollout-channel` (as its
 * packaged role, under the IAM evaluation) finds the Auto Scaling groups tagged
 * factory:channel=web/stable in each promoted region (moto's DescribeAutoScalingGroups tag
 * filter) and starts an instance refresh of each (InstanceRefreshDouble: moto has none), never
 * touching the other groups; a second rollout while those run reports them in progress. Then what
 * the role must not do, and what the emulator refuses as Auto Scaling does.
 *
 * The consumers' groups launch from a launch template whose image is `resolve:ssm:<pointer>`
 * (docs/consumers.md), so a refresh is all a group needs to take the promoted image.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRolloutSettings, type RolloutReport, resolveRollout } from '#commons/core/rollout.js';
import type { Promotion } from '#commons/schemas.js';
import { buildDocument } from './fixtures/build.js';
import {
  type AwsSide,
  clientsPerRegion,
  DISTRIBUTION_REGIONS,
  importHandler,
  invoke,
  type LambdaHandler,
  packagedStack,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
} from './harness.js';
import { TEST_REGION } from './moto.js';

const PREFIX = stackSettings().CHANNEL_PARAMETER_PREFIX;
const OTHER = DISTRIBUTION_REGIONS[0];
const ROLLOUT = JSON.stringify({ 'web/stable': { minHealthyPercentage: 90, instanceWarmupSeconds: 30 } });

/** Groups per region with their factory:channel tag (undefined: untagged). */
const GROUPS: Record<string, Record<string, string | undefined>> = {
  [TEST_REGION]: {
    'web-stable-a': 'web/stable',
    'web-stable-b': 'web/stable',
    'web-canary': 'web/canary',
    plain: undefined,
    // A channel of a pipeline no stack here has: the role may never refresh it.
    intruder: 'intruder/stable',
  },
  [OTHER]: { 'web-stable-eu': 'web/stable' },
  // A region the build did not promote in: its groups are not searched.
  [DISTRIBUTION_REGIONS[1]]: { 'web-stable-ap': 'web/stable' },
};

let aws: AwsSide;
let rolloutChannel: LambdaHandler<RolloutReport>;
/** moto in a region, straight (preparation), or through the proxy without a role (the emulator's refusals). */
const { inRegion, destroy: destroyClients } = clientsPerRegion(
  (config) => ({ ec2: new EC2Client(config), autoscaling: new AutoScalingClient(config) }),
  () => aws.motoEndpoint,
);

/** The state document after a promotion of web/stable in the stack's region and OTHER. */
const promotedState = () => {
  const build = buildDocument({ pipeline: 'web', channel: 'stable' });
  const rollout = resolveRollout(parseRolloutSettings(process.env.ROLLOUT ?? ''), 'web', 'stable');
  const region = (name: string, imageId: string) => ({
    region: name,
    outcome: 'promoted' as const,
    imageId,
    previousImageId: null,
    parameterName: `${PREFIX}/web/stable`,
    parameterVersion: 1,
  });
  const promotion: Promotion = {
    outcome: 'promoted',
    channel: 'stable',
    imageId: 'ami-0c0ffee0c0ffee001',
    previousImageId: null,
    parameterName: `${PREFIX}/web/stable`,
    parameterVersion: 1,
    regions: [region(TEST_REGION, 'ami-0c0ffee0c0ffee001'), region(OTHER, 'ami-0c0ffee0c0ffee002')],
  };
  return { build: { ...build, rollout }, promotion };
};

beforeAll(async () => {
  aws = await startAwsSide({ env: { ROLLOUT } });
  rolloutChannel = await importHandler<RolloutReport>('rollout-channel');
  for (const [region, groups] of Object.entries(GROUPS)) {
    const { ec2, autoscaling } = inRegion(region);
    // The consumers' launch template (docs/consumers.md): the image is the channel's pointer,
    // resolved by EC2 at each launch.
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web-stable',
        LaunchTemplateData: { ImageId: `resolve:ssm:${PREFIX}/web/stable`, InstanceType: 't3.micro' },
      }),
    );
    for (const [name, channel] of Object.entries(groups)) {
      await autoscaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          MinSize: 0,
          MaxSize: 2,
          DesiredCapacity: 0,
          AvailabilityZones: [`${region}a`],
          LaunchTemplate: { LaunchTemplateName: 'web-stable', Version: '$Default' },
          Tags: channel
            ? [
                {
                  Key: 'factory:channel',
                  Value: channel,
                  PropagateAtLaunch: false,
                  ResourceId: name,
                  ResourceType: 'auto-scaling-group',
                },
              ]
            : [],
        }),
      );
    }
  }
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  destroyClients();
  await aws?.close();
});

describe('rollout-channel on the emulator', () => {
  it('refreshes exactly the groups tagged with the channel, in every promoted region, with the preferences', async () => {
    // Act
    const report = await invoke(rolloutChannel, promotedState());

    // Assess
    expect(report).toMatchObject({
      outcome: 'started',
      tag: { key: 'factory:channel', value: 'web/stable' },
      regions: [TEST_REGION, OTHER],
      regionErrors: [],
    });
    expect(report.groups.map((group) => [group.region, group.group, group.outcome])).toEqual([
      [TEST_REGION, 'web-stable-a', 'started'],
      [TEST_REGION, 'web-stable-b', 'started'],
      [OTHER, 'web-stable-eu', 'started'],
    ]);
    const refreshed = aws.proxy.instanceRefreshes.refreshes;
    expect(refreshed.map((refresh) => `${refresh.region}/${refresh.AutoScalingGroupName}`)).toEqual([
      `${TEST_REGION}/web-stable-a`,
      `${TEST_REGION}/web-stable-b`,
      `${OTHER}/web-stable-eu`,
    ]);
    for (const refresh of refreshed) {
      // Never SkipMatching: the launch template does not change when the pointer moves.
      expect(refresh.Preferences).toEqual({ MinHealthyPercentage: 90, InstanceWarmup: 30 });
      expect(refresh.Strategy).toBe('Rolling');
    }
    const started = report.groups[0];
    expect(started?.outcome === 'started' && started.instanceRefreshId).toBe(refreshed[0]?.InstanceRefreshId);
    // What an operator sees (DescribeInstanceRefreshes through the emulator).
    const { InstanceRefreshes } = await inRegion(TEST_REGION, aws.proxy.endpoint).autoscaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'web-stable-a' }),
    );
    expect(InstanceRefreshes?.map((refresh) => [refresh.InstanceRefreshId, refresh.Status])).toEqual([
      [refreshed[0]?.InstanceRefreshId, 'Pending'],
    ]);
  });

  it('a rollout while those refreshes run reports them in progress; once they end it starts again', async () => {
    const busy = await invoke(rolloutChannel, promotedState());

    expect(busy.outcome).toBe('partial');
    expect(busy.groups.map((group) => group.outcome)).toEqual(['in-progress', 'in-progress', 'in-progress']);

    for (const group of ['web-stable-a', 'web-stable-b'])
      aws.proxy.instanceRefreshes.finish(TEST_REGION, group);
    aws.proxy.instanceRefreshes.finish(OTHER, 'web-stable-eu');
    const again = await invoke(rolloutChannel, promotedState());

    expect(again.outcome).toBe('started');
    expect(aws.proxy.instanceRefreshes.refreshes).toHaveLength(6);
  });
});

describe('IAM: StartInstanceRefresh only on groups tagged with a channel of the stack pipelines', () => {
  /** Evaluated without recording (the file fails on any refused call the handlers made). */
  const denied = async (role: string, operation: string, input: Record<string, unknown>, region: string) => {
    const iam = aws.proxy.iam;
    if (!iam) throw new Error('no IAM evaluation');
    const requests = await iam.requestsFor('autoscaling', operation, input, region);
    const decisions = await Promise.all(requests.map((request) => iam.simulate(role, request)));
    return decisions.some((decision) => decision.result !== 'Allowed');
  };

  it.each([
    ['a group without the tag', 'RolloutChannelRole', 'plain', TEST_REGION],
    ['a group of a pipeline the stack does not have', 'RolloutChannelRole', 'intruder', TEST_REGION],
    ['a tagged group, by the promotion role', 'PromoteImageRole', 'web-stable-a', TEST_REGION],
    [
      'a tagged group in a region outside the factory regions',
      'RolloutChannelRole',
      'web-stable-a',
      'us-west-2',
    ],
  ])('denies refreshing %s', async (_label, role, group, region) => {
    expect(await denied(role, 'StartInstanceRefresh', { AutoScalingGroupName: group }, region)).toBe(true);
  });

  it('denies every other role of the stack a refresh of a tagged group', async () => {
    let checked = 0;
    for (const [role, detail] of packagedStack().roles()) {
      if (detail.awsManaged.length > 0 || role === 'RolloutChannelRole') continue;
      expect(
        await denied(role, 'StartInstanceRefresh', { AutoScalingGroupName: 'web-stable-a' }, TEST_REGION),
        role,
      ).toBe(true);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it.each([
    ['web-stable-a', TEST_REGION],
    ['web-canary', TEST_REGION],
    ['web-stable-eu', OTHER],
  ])('allows the rollout role to refresh %s in %s (the allowed twin)', async (group, region) => {
    expect(
      await denied('RolloutChannelRole', 'StartInstanceRefresh', { AutoScalingGroupName: group }, region),
    ).toBe(false);
    expect(await denied('RolloutChannelRole', 'DescribeAutoScalingGroups', {}, region)).toBe(false);
  });

  it('refuses the untagged group to the handler role at the emulator boundary (AccessDenied)', async () => {
    const refusal = await aws.proxy
      .runAs('RolloutChannelRole', () =>
        inRegion(TEST_REGION, aws.proxy.endpoint).autoscaling.send(
          new StartInstanceRefreshCommand({ AutoScalingGroupName: 'plain' }),
        ),
      )
      .catch((error: Error) => error);

    expect(refusal).toMatchObject({ name: 'AccessDenied' });
    expect(aws.proxy.instanceRefreshes.of(TEST_REGION, 'plain')).toEqual([]);
    // The refusal was the test's own probe, not a handler call: drop it from the file's record.
    const iam = aws.proxy.iam;
    if (iam)
      iam.decisions.splice(0, iam.decisions.length, ...iam.decisions.filter((d) => d.result === 'Allowed'));
  });
});

describe('the emulator refuses what Auto Scaling refuses', () => {
  const start = (input: ConstructorParameters<typeof StartInstanceRefreshCommand>[0]) =>
    inRegion(TEST_REGION, aws.proxy.endpoint)
      .autoscaling.send(new StartInstanceRefreshCommand(input))
      .catch((error: Error) => error);

  it.each([
    ['an unknown group', { AutoScalingGroupName: 'nobody' }, 'ValidationError'],
    [
      'MaxHealthyPercentage without MinHealthyPercentage',
      { AutoScalingGroupName: 'web-canary', Preferences: { MaxHealthyPercentage: 150 } },
      'ValidationError',
    ],
    [
      'healthy percentages more than 100 apart',
      {
        AutoScalingGroupName: 'web-canary',
        Preferences: { MinHealthyPercentage: 10, MaxHealthyPercentage: 150 },
      },
      'ValidationError',
    ],
    [
      'MinHealthyPercentage above 100 (service model)',
      { AutoScalingGroupName: 'web-canary', Preferences: { MinHealthyPercentage: 101 } },
      'ValidationError',
    ],
  ])('refuses %s', async (_label, input, code) => {
    const before = aws.proxy.instanceRefreshes.refreshes.length;

    expect(await start(input)).toMatchObject({ name: code });
    expect(aws.proxy.instanceRefreshes.refreshes).toHaveLength(before);
  });
});
