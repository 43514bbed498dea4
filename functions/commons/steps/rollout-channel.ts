import { type GroupRefresh, promotedRegions, type RolloutReport, rolloutOutcome } from '../core/rollout.js';
import type { ScalingGroups } from '../ports.js';
import type { Build, Promotion } from '../schemas.js';

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * State `RolloutChannel`: after a promotion, start an instance refresh of every Auto Scaling group
 * that consumes the channel, in every region whose channel now names the build's image
 * (`core/rollout.ts` {@link promotedRegions}: `$.promotion.regions[]` promoted, else the stack's
 * region). The groups are those tagged `build.rollout.tag` (`factory:channel` =
 * `<pipeline>/<channel>`); each refresh uses `build.rollout.preferences`.
 *
 * Per group the report says `started` (with the refresh id), `in-progress` (the group already had
 * an active refresh, which this one would have joined: reported, not an error) or `failed` (the
 * error); a region whose groups cannot be listed is reported in `regionErrors`. Nothing here throws
 * for one group or region: every group is tried.
 * @param build the build document; `build.rollout` must be set (the ASL's `IsRolloutConfigured`).
 * @returns `$.rollout`, a {@link RolloutReport}.
 * @throws Error when `build.rollout` is absent (the ASL never calls the step then).
 */
export async function rolloutChannel(
  input: { build: Build; promotion: Promotion },
  ports: { groups: ScalingGroups; homeRegion: string },
): Promise<RolloutReport> {
  const { rollout } = input.build;
  if (!rollout) throw new Error(`build ${input.build.buildId} has no rollout: the channel does not roll out`);
  const regions = promotedRegions(input.promotion, ports.homeRegion);
  const groups: GroupRefresh[] = [];
  const regionErrors: RolloutReport['regionErrors'] = [];
  for (const region of regions) {
    let names: string[];
    try {
      names = await ports.groups.findTagged(region, rollout.tag.key, rollout.tag.value);
    } catch (error) {
      regionErrors.push({ region, error: describeError(error) });
      continue;
    }
    for (const group of names) {
      try {
        const started = await ports.groups.startRefresh(region, group, rollout.preferences);
        groups.push(
          started.outcome === 'started'
            ? { region, group, outcome: 'started', instanceRefreshId: started.instanceRefreshId }
            : { region, group, outcome: 'in-progress', detail: started.detail },
        );
      } catch (error) {
        groups.push({ region, group, outcome: 'failed', error: describeError(error) });
      }
    }
  }
  return { outcome: rolloutOutcome(groups, regionErrors), tag: rollout.tag, regions, groups, regionErrors };
}
