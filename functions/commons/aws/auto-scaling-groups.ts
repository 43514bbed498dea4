/**
 * `ScalingGroups` on EC2 Auto Scaling: the groups of a region tagged with a channel, and their
 * instance refreshes.
 *
 * - `DescribeAutoScalingGroups` with the filter `tag:<key>` = value lists the groups carrying the
 *   tag (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html,
 *   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Filter.html); paginated.
 * - `StartInstanceRefresh` with `Strategy: Rolling` and the preferences given, without
 *   `DesiredConfiguration` (the group's own launch template, whose `resolve:ssm:` image is read at
 *   each launch) and without `SkipMatching` (it would skip every instance, the template being
 *   unchanged: https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh-skip-matching.html).
 *   Its errors are `InstanceRefreshInProgress`, `LimitExceeded` and `ResourceContention`
 *   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html); the
 *   first is an outcome, the others are thrown.
 */
import {
  type AutoScalingClient,
  paginateDescribeAutoScalingGroups,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { REFRESH_IN_PROGRESS } from '../core/rollout.js';
import type { RefreshStart, ScalingGroups } from '../ports.js';

export class AutoScalingGroups implements ScalingGroups {
  constructor(private readonly client: (region: string) => AutoScalingClient) {}

  async findTagged(region: string, key: string, value: string): Promise<string[]> {
    const names: string[] = [];
    const pages = paginateDescribeAutoScalingGroups(
      { client: this.client(region) },
      { Filters: [{ Name: `tag:${key}`, Values: [value] }] },
    );
    for await (const page of pages) {
      for (const group of page.AutoScalingGroups ?? []) {
        // The filter matches exact values; checked again so a looser answer never widens a rollout.
        const tagged = (group.Tags ?? []).some((tag) => tag.Key === key && tag.Value === value);
        if (group.AutoScalingGroupName && tagged) names.push(group.AutoScalingGroupName);
      }
    }
    return names.sort();
  }

  async startRefresh(
    region: string,
    group: string,
    preferences: { MinHealthyPercentage?: number; MaxHealthyPercentage?: number; InstanceWarmup?: number },
  ): Promise<RefreshStart> {
    try {
      const { InstanceRefreshId } = await this.client(region).send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: group,
          Strategy: 'Rolling',
          ...(Object.keys(preferences).length > 0 ? { Preferences: { ...preferences } } : {}),
        }),
      );
      if (!InstanceRefreshId) throw new Error(`StartInstanceRefresh of ${group} returned no refresh id`);
      return { outcome: 'started', instanceRefreshId: InstanceRefreshId };
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === REFRESH_IN_PROGRESS || name === `${REFRESH_IN_PROGRESS}Fault`)
        return { outcome: 'in-progress', detail: (error as Error).message };
      throw error;
    }
  }
}
