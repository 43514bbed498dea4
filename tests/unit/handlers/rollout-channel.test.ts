/**
 * Handler `rollout-channel`: the parsed state document in, the EC2 Auto Scaling calls (mocked with
 * aws-sdk-client-mock) in the stack's region (AWS_REGION), the report out.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  InstanceRefreshInProgressFault,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { handler as rolloutChannel } from '../../../functions/rollout-channel.js';
import { mockAws } from '../helpers/aws.js';
import { context, loadEvent } from '../helpers/lambda.js';

const autoscaling = mockAws(AutoScalingClient);

type State = Record<string, unknown> & { build: Record<string, unknown> };
/** The promoted state document of a channel that rolls out. */
const promoted = (): State => {
  const state = loadEvent<State>('stepfunctions', 'promoted');
  state.build.rollout = {
    tag: { key: 'factory:channel', value: 'web/stable' },
    preferences: { MinHealthyPercentage: 90 },
  };
  return state;
};

describe('rollout-channel', () => {
  it('refreshes the tagged groups and reports each one', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        { AutoScalingGroupName: 'web-blue', Tags: [{ Key: 'factory:channel', Value: 'web/stable' }] },
        { AutoScalingGroupName: 'web-green', Tags: [{ Key: 'factory:channel', Value: 'web/stable' }] },
      ] as never,
    });
    autoscaling
      .on(StartInstanceRefreshCommand, { AutoScalingGroupName: 'web-blue' })
      .resolves({ InstanceRefreshId: '08b91cf7-8fa6-48af-b6a6-d227f40f1b9b' })
      .on(StartInstanceRefreshCommand, { AutoScalingGroupName: 'web-green' })
      .rejects(
        new InstanceRefreshInProgressFault({
          message: 'An Instance Refresh is already in progress',
          $metadata: {},
        }),
      );

    const report = await rolloutChannel(promoted(), context());

    expect(report).toEqual({
      outcome: 'partial',
      tag: { key: 'factory:channel', value: 'web/stable' },
      regions: ['eu-west-1'],
      groups: [
        {
          region: 'eu-west-1',
          group: 'web-blue',
          outcome: 'started',
          instanceRefreshId: '08b91cf7-8fa6-48af-b6a6-d227f40f1b9b',
        },
        {
          region: 'eu-west-1',
          group: 'web-green',
          outcome: 'in-progress',
          detail: 'An Instance Refresh is already in progress',
        },
      ],
      regionErrors: [],
    });
    expect(
      autoscaling.commandCalls(StartInstanceRefreshCommand).map((call) => call.args[0].input.Preferences),
    ).toEqual([{ MinHealthyPercentage: 90 }, { MinHealthyPercentage: 90 }]);
  });

  it('rejects a state without a promotion (InvalidInput), calling nothing', async () => {
    const state = promoted();
    delete state.promotion;

    await expect(rolloutChannel(state, context())).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(autoscaling.calls()).toHaveLength(0);
  });
});
