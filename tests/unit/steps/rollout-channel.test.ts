/**
 * Rollout: PrepareBuild resolves (or refuses) the channel's rollout; the RolloutChannel step over
 * an in-memory port; the Auto Scaling adapter's requests and error mapping (aws-sdk-client-mock);
 * the local backend's empty port.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  InstanceRefreshInProgressFault,
  ResourceContentionFault,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { AutoScalingGroups } from '#commons/aws/auto-scaling-groups.js';
import { InvalidRollout } from '#commons/errors.js';
import { PrepareBuildInput, RolloutChannelInput } from '#commons/handler-inputs.js';
import type { RefreshStart, ScalingGroups } from '#commons/ports.js';
import type { Build, Promotion } from '#commons/schemas.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';
import { rolloutChannel } from '#commons/steps/rollout-channel.js';
import { LocalScalingGroups } from '#local/scaling-groups.js';
import { mockAws } from '../helpers/aws.js';
import { MemoryPromotionLedger, StaticSources } from '../helpers/fakes.js';
import { BUILD, NOW } from '../helpers/fixtures.js';

const sources = new StaticSources({
  'ami-0aaaaaaaaaaaaaaaa': {
    imageId: 'ami-0aaaaaaaaaaaaaaaa',
    name: 'ubuntu-noble',
    ownerId: '099720109477',
    baseImage: 'ubuntu-24.04',
    createdAt: '2026-06-01T08:00:00.000Z',
  },
});
const prepare = (rollout: Record<string, unknown> | undefined, channel = 'stable') =>
  prepareBuild(
    PrepareBuildInput.parse({ pipeline: 'web', channel, baseImage: 'ubuntu-24.04' }),
    { sources, ledger: new MemoryPromotionLedger() },
    { probeTimeoutSeconds: 900, now: () => NOW, ...(rollout ? { rollout } : {}) },
  );

describe('prepareBuild: rollout', () => {
  it('resolves the channel entry into build.rollout', async () => {
    const build = await prepare({ 'web/stable': { minHealthyPercentage: 75, instanceWarmupSeconds: 120 } });

    expect(build.rollout).toEqual({
      tag: { key: 'factory:channel', value: 'web/stable' },
      preferences: { MinHealthyPercentage: 75, InstanceWarmup: 120 },
    });
  });

  it('leaves build.rollout out for a channel without an entry, and by default', async () => {
    expect(await prepare({ 'web/stable': {} }, 'canary')).not.toHaveProperty('rollout');
    expect(await prepare(undefined)).not.toHaveProperty('rollout');
  });

  it('refuses a bad entry with InvalidRollout naming the channel and the problem', async () => {
    const refused = prepare({ 'web/stable': { maxHealthyPercentage: 150 } });

    await expect(refused).rejects.toThrow(InvalidRollout);
    await expect(refused).rejects.toMatchObject({
      name: 'InvalidRollout',
      message:
        'rollout of web/stable: maxHealthyPercentage: maxHealthyPercentage needs minHealthyPercentage (StartInstanceRefresh refuses it alone)',
    });
  });
});

class MemoryGroups implements ScalingGroups {
  readonly asked: string[] = [];
  readonly started: Array<{ region: string; group: string; preferences: unknown }> = [];
  constructor(
    private readonly tagged: Record<string, string[]>,
    private readonly answers: Record<string, RefreshStart | Error> = {},
  ) {}
  async findTagged(region: string, key: string, value: string) {
    this.asked.push(`${region} ${key}=${value}`);
    const answer = this.answers[region];
    if (answer instanceof Error) throw answer;
    return this.tagged[region] ?? [];
  }
  async startRefresh(region: string, group: string, preferences: unknown): Promise<RefreshStart> {
    const answer = this.answers[`${region}/${group}`];
    if (answer instanceof Error) throw answer;
    if (answer) return answer;
    this.started.push({ region, group, preferences });
    return { outcome: 'started', instanceRefreshId: `id-${group}` };
  }
}

const ROLLED: Build = {
  ...BUILD,
  rollout: {
    tag: { key: 'factory:channel', value: 'web/stable' },
    preferences: { MinHealthyPercentage: 90 },
  },
};
const PROMOTED: Promotion = {
  outcome: 'promoted',
  channel: 'stable',
  imageId: 'ami-0c0ffee0c0ffee001',
  previousImageId: null,
  parameterName: '/image-factory/dev/channels/web/stable',
  parameterVersion: 3,
};

describe('rolloutChannel', () => {
  it('refreshes every tagged group of the stack region with the build preferences', async () => {
    const groups = new MemoryGroups({ 'us-east-1': ['blue', 'green'] });

    const report = await rolloutChannel(
      { build: ROLLED, promotion: PROMOTED },
      { groups, homeRegion: 'us-east-1' },
    );

    expect(groups.asked).toEqual(['us-east-1 factory:channel=web/stable']);
    expect(groups.started).toEqual([
      { region: 'us-east-1', group: 'blue', preferences: { MinHealthyPercentage: 90 } },
      { region: 'us-east-1', group: 'green', preferences: { MinHealthyPercentage: 90 } },
    ]);
    expect(report).toEqual({
      outcome: 'started',
      tag: { key: 'factory:channel', value: 'web/stable' },
      regions: ['us-east-1'],
      groups: [
        { region: 'us-east-1', group: 'blue', outcome: 'started', instanceRefreshId: 'id-blue' },
        { region: 'us-east-1', group: 'green', outcome: 'started', instanceRefreshId: 'id-green' },
      ],
      regionErrors: [],
    });
  });

  it('covers only the promoted regions and tries every group whatever the others did', async () => {
    const groups = new MemoryGroups(
      { 'us-east-1': ['busy', 'refused', 'ok'], 'eu-west-1': ['eu'], 'ap-southeast-2': ['never'] },
      {
        'us-east-1/busy': { outcome: 'in-progress', detail: 'An Instance Refresh is already in progress' },
        'us-east-1/refused': Object.assign(new Error('limit'), { name: 'LimitExceeded' }),
        'eu-west-1': Object.assign(new Error('denied'), { name: 'AccessDenied' }),
      },
    );
    const promotion: Promotion = {
      ...PROMOTED,
      regions: [
        {
          region: 'us-east-1',
          outcome: 'promoted',
          imageId: 'ami-1',
          previousImageId: null,
          parameterName: '/p',
          parameterVersion: 1,
        },
        {
          region: 'eu-west-1',
          outcome: 'promoted',
          imageId: 'ami-2',
          previousImageId: null,
          parameterName: '/p',
          parameterVersion: 1,
        },
        {
          region: 'ap-southeast-2',
          outcome: 'superseded',
          imageId: 'ami-3',
          previousImageId: null,
          parameterName: '/p',
          parameterVersion: 1,
        },
      ],
    };

    const report = await rolloutChannel({ build: ROLLED, promotion }, { groups, homeRegion: 'us-east-1' });

    expect(report.regions).toEqual(['us-east-1', 'eu-west-1']);
    expect(report.outcome).toBe('partial');
    expect(report.groups).toEqual([
      {
        region: 'us-east-1',
        group: 'busy',
        outcome: 'in-progress',
        detail: 'An Instance Refresh is already in progress',
      },
      { region: 'us-east-1', group: 'refused', outcome: 'failed', error: 'LimitExceeded: limit' },
      { region: 'us-east-1', group: 'ok', outcome: 'started', instanceRefreshId: 'id-ok' },
    ]);
    expect(report.regionErrors).toEqual([{ region: 'eu-west-1', error: 'AccessDenied: denied' }]);
  });

  it('reports none when no group carries the tag', async () => {
    const report = await rolloutChannel(
      { build: ROLLED, promotion: PROMOTED },
      { groups: new MemoryGroups({}), homeRegion: 'us-east-1' },
    );

    expect(report).toMatchObject({ outcome: 'none', groups: [], regionErrors: [] });
  });

  it('refuses a build without a rollout (the ASL never calls it then)', async () => {
    await expect(
      rolloutChannel(
        { build: BUILD, promotion: PROMOTED },
        { groups: new MemoryGroups({}), homeRegion: 'us-east-1' },
      ),
    ).rejects.toThrow(/has no rollout/);
  });

  it('parses its input: the build and the promotion are required', () => {
    expect(RolloutChannelInput.safeParse({ build: ROLLED }).success).toBe(false);
    expect(RolloutChannelInput.safeParse({ build: ROLLED, promotion: PROMOTED, other: 1 }).success).toBe(
      true,
    );
  });

  it('finds nothing on the local backend and says so', async () => {
    const report = await rolloutChannel(
      { build: ROLLED, promotion: PROMOTED },
      { groups: new LocalScalingGroups(), homeRegion: 'local' },
    );

    expect(report).toMatchObject({ outcome: 'none', regions: ['local'], groups: [] });
    await expect(new LocalScalingGroups().startRefresh('local', 'g')).rejects.toThrow(
      /no Auto Scaling groups/,
    );
  });
});

describe('AutoScalingGroups (EC2 Auto Scaling adapter)', () => {
  const autoscaling = mockAws(AutoScalingClient);
  const adapter = () => {
    const clients: string[] = [];
    const groups = new AutoScalingGroups((region) => {
      clients.push(region);
      return new AutoScalingClient({ region });
    });
    return { groups, clients };
  };

  it('lists the groups with a tag:<key> filter in the region asked, every page, exact tag values only', async () => {
    autoscaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({
        AutoScalingGroups: [
          { AutoScalingGroupName: 'b', Tags: [{ Key: 'factory:channel', Value: 'web/stable' }] } as never,
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        AutoScalingGroups: [
          { AutoScalingGroupName: 'a', Tags: [{ Key: 'factory:channel', Value: 'web/stable' }] } as never,
          { AutoScalingGroupName: 'other', Tags: [{ Key: 'factory:channel', Value: 'web/canary' }] } as never,
        ],
      });
    const { groups, clients } = adapter();

    const names = await groups.findTagged('eu-west-1', 'factory:channel', 'web/stable');

    expect(names).toEqual(['a', 'b']);
    expect(clients).toContain('eu-west-1');
    const calls = autoscaling.commandCalls(DescribeAutoScalingGroupsCommand);
    // The paginator reuses one input object (so both records show the last token): two pages
    // were asked for, each with the tag filter.
    expect(calls).toHaveLength(2);
    for (const call of calls)
      expect(call.args[0].input.Filters).toEqual([{ Name: 'tag:factory:channel', Values: ['web/stable'] }]);
    expect(calls[1]?.args[0].input.NextToken).toBe('page-2');
  });

  it('starts a rolling refresh with the preferences, never SkipMatching nor a desired configuration', async () => {
    autoscaling.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'ir-1' });
    const { groups } = adapter();

    expect(
      await groups.startRefresh('us-east-1', 'blue', { MinHealthyPercentage: 90, InstanceWarmup: 60 }),
    ).toEqual({
      outcome: 'started',
      instanceRefreshId: 'ir-1',
    });
    expect(await groups.startRefresh('us-east-1', 'green', {})).toEqual({
      outcome: 'started',
      instanceRefreshId: 'ir-1',
    });
    const inputs = autoscaling.commandCalls(StartInstanceRefreshCommand).map((call) => call.args[0].input);
    expect(inputs).toEqual([
      {
        AutoScalingGroupName: 'blue',
        Strategy: 'Rolling',
        Preferences: { MinHealthyPercentage: 90, InstanceWarmup: 60 },
      },
      { AutoScalingGroupName: 'green', Strategy: 'Rolling' },
    ]);
  });

  it('reports InstanceRefreshInProgress as an outcome and throws the other errors', async () => {
    autoscaling
      .on(StartInstanceRefreshCommand, { AutoScalingGroupName: 'busy' })
      .rejects(
        new InstanceRefreshInProgressFault({
          message: 'An Instance Refresh is already in progress',
          $metadata: {},
        }),
      )
      .on(StartInstanceRefreshCommand, { AutoScalingGroupName: 'contended' })
      .rejects(new ResourceContentionFault({ message: 'pending update', $metadata: {} }))
      .on(StartInstanceRefreshCommand, { AutoScalingGroupName: 'no-id' })
      .resolves({});
    const { groups } = adapter();

    expect(await groups.startRefresh('us-east-1', 'busy', {})).toEqual({
      outcome: 'in-progress',
      detail: 'An Instance Refresh is already in progress',
    });
    await expect(groups.startRefresh('us-east-1', 'contended', {})).rejects.toThrow(ResourceContentionFault);
    await expect(groups.startRefresh('us-east-1', 'no-id', {})).rejects.toThrow(/returned no refresh id/);
  });
});
