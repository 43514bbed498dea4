/**
 * The local backend's Auto Scaling groups: there are none (machines are qemu VMs started by the
 * runner), so a local rollout finds no group and starts no refresh. `RolloutChannel` then reports
 * `none` ("no Auto Scaling group tagged factory:channel=<pipeline>/<channel> in local").
 */
import type { RefreshStart, ScalingGroups } from '#commons/ports.js';

export class LocalScalingGroups implements ScalingGroups {
  async findTagged(): Promise<string[]> {
    return [];
  }

  async startRefresh(region: string, group: string): Promise<RefreshStart> {
    throw new Error(`the local backend has no Auto Scaling groups (asked to refresh ${group} in ${region})`);
  }
}
