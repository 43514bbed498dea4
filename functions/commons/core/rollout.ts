/**
 * Rollout of a promoted image to the Auto Scaling groups that consume its channel (issue 10,
 * point 6). Pure: no AWS or filesystem imports.
 *
 * The setting is the stage parameter `rollout` (environment `ROLLOUT`): a JSON object keyed by
 * `<pipeline>/<channel>`, each value a {@link RolloutSetting} (`{}` = refresh with the groups' own
 * preferences). A channel without an entry is never rolled out. PrepareBuild resolves the build's
 * entry with {@link resolveRollout} into `$.build.rollout`; the state machine's
 * `IsRolloutConfigured` Choice skips `RolloutChannel` when it is absent.
 *
 * `RolloutChannel` then finds, in every region the build promoted, the Auto Scaling groups tagged
 * {@link ROLLOUT_TAG_KEY} = {@link rolloutTagValue} and starts an instance refresh on each.
 *
 * Facts this relies on (AWS documentation):
 * - A launch template whose image is `resolve:ssm:<parameter>` resolves the parameter when an
 *   instance launches, so groups take a new image without a new launch template version
 *   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/using-systems-manager-parameters.html).
 * - Skip matching replaces only instances whose launch template or instance types differ; the
 *   launch template does not change when the pointer moves, so a refresh with `SkipMatching`
 *   would replace nothing (https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh-skip-matching.html).
 *   The factory never sets it.
 * - `RefreshPreferences`: `MinHealthyPercentage` 0-100, `MaxHealthyPercentage` 100-200 and only
 *   together with `MinHealthyPercentage`, at most 100 apart; `InstanceWarmup` seconds ≥ 0
 *   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html; the
 *   botocore model's `IntPercent`, `IntPercent100To200`, `RefreshInstanceWarmup`).
 * - `StartInstanceRefresh` fails with `InstanceRefreshInProgress` when the group already has an
 *   active refresh, `LimitExceeded` and `ResourceContention`
 *   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html).
 * - `DescribeAutoScalingGroups` takes a `tag:<key>` filter with the tag's value
 *   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Filter.html).
 */
import * as z from 'zod';
import { type Architecture, DEFAULT_ARCHITECTURE, trackOf } from './architectures.js';
import { parseJsonObjectSetting } from './json-setting.js';
import { TAG } from './tags.js';

/** The tag a consumer puts on an Auto Scaling group to have it refreshed: `factory:channel`. */
export const ROLLOUT_TAG_KEY = TAG.channel;

/**
 * The value of {@link ROLLOUT_TAG_KEY} on the groups of a channel: `<pipeline>/<channel>` for
 * x86_64, `<pipeline>/<architecture>/<channel>` for another architecture's track, the path its
 * channel pointer has under the channel prefix (`core/architectures.ts` `trackOf`): a group
 * launching from the arm64 pointer is tagged `web/arm64/stable` and refreshed by arm64 builds only.
 */
export const rolloutTagValue = (
  pipeline: string,
  channel: string,
  architecture: Architecture = DEFAULT_ARCHITECTURE,
): string => `${trackOf(pipeline, architecture)}/${channel}`;

/** A key of the `rollout` stage parameter: `<pipeline>/<channel>` (two names, one slash). */
export const ROLLOUT_KEY_PATTERN = /^[a-z][a-z0-9-]{0,31}\/[a-z][a-z0-9-]{0,31}$/;

/** The error code `StartInstanceRefresh` answers when the group already has an active refresh. */
export const REFRESH_IN_PROGRESS = 'InstanceRefreshInProgress';

/** One channel's entry of the `rollout` stage parameter, as written. */
export const RolloutSetting = z
  .strictObject({
    /** Percentage of the group that stays in service during the refresh (0-100; AWS default 90). */
    minHealthyPercentage: z
      .number({ error: 'minHealthyPercentage must be a whole number from 0 to 100' })
      .int({ error: 'minHealthyPercentage must be a whole number from 0 to 100' })
      .min(0, { error: 'minHealthyPercentage must be a whole number from 0 to 100' })
      .max(100, { error: 'minHealthyPercentage must be a whole number from 0 to 100' })
      .optional(),
    /** Percentage of the group that may be in service or pending (100-200); needs minHealthyPercentage. */
    maxHealthyPercentage: z
      .number({ error: 'maxHealthyPercentage must be a whole number from 100 to 200' })
      .int({ error: 'maxHealthyPercentage must be a whole number from 100 to 200' })
      .min(100, { error: 'maxHealthyPercentage must be a whole number from 100 to 200' })
      .max(200, { error: 'maxHealthyPercentage must be a whole number from 100 to 200' })
      .optional(),
    /** Seconds a new instance warms up before the next is replaced (default: the group's). */
    instanceWarmupSeconds: z
      .number({ error: 'instanceWarmupSeconds must be a whole number of seconds, 0 or more' })
      .int({ error: 'instanceWarmupSeconds must be a whole number of seconds, 0 or more' })
      .min(0, { error: 'instanceWarmupSeconds must be a whole number of seconds, 0 or more' })
      .max(172800, { error: 'instanceWarmupSeconds must be at most 172800 (two days)' })
      .optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.maxHealthyPercentage === undefined) return;
    if (entry.minHealthyPercentage === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['maxHealthyPercentage'],
        message: 'maxHealthyPercentage needs minHealthyPercentage (StartInstanceRefresh refuses it alone)',
      });
    else if (entry.maxHealthyPercentage - entry.minHealthyPercentage > 100)
      ctx.addIssue({
        code: 'custom',
        path: ['maxHealthyPercentage'],
        message: `maxHealthyPercentage ${entry.maxHealthyPercentage} and minHealthyPercentage ${entry.minHealthyPercentage} are more than 100 apart`,
      });
  });
export type RolloutSetting = z.output<typeof RolloutSetting>;

/** `$.build.rollout`: the groups to refresh and how (present only when the channel rolls out). */
export interface Rollout {
  /** The tag the groups carry. */
  tag: { key: string; value: string };
  /** `RefreshPreferences` of every refresh (`SkipMatching` is never set). */
  preferences: RefreshPreferences;
}

/** The `RefreshPreferences` the factory sets (names as in the API). */
export interface RefreshPreferences {
  MinHealthyPercentage?: number;
  MaxHealthyPercentage?: number;
  InstanceWarmup?: number;
}

/**
 * Resolve the rollout of a build of `pipeline` promoted to `channel`. The setting is the channel's
 * (`<pipeline>/<channel>`, every architecture alike); the groups are the build's architecture's
 * ({@link rolloutTagValue}).
 * @param settings the `rollout` stage parameter, parsed by {@link parseRolloutSettings}.
 * @param architecture the build's architecture (default x86_64).
 * @returns the rollout, or undefined when the channel has no entry (no rollout).
 * @throws Error (its message lists every problem) when the channel's entry does not parse.
 */
export const resolveRollout = (
  settings: Readonly<Record<string, unknown>>,
  pipeline: string,
  channel: string,
  describe: (problems: string) => Error = (problems) => new Error(problems),
  architecture: Architecture = DEFAULT_ARCHITECTURE,
): Rollout | undefined => {
  const key = rolloutTagValue(pipeline, channel);
  if (!Object.hasOwn(settings, key)) return undefined;
  const parsed = RolloutSetting.safeParse(settings[key]);
  if (!parsed.success)
    throw describe(
      parsed.error.issues
        .map((issue) => `${issue.path.map(String).join('.') || '(entry)'}: ${issue.message}`)
        .join('; '),
    );
  const entry = parsed.data;
  return {
    tag: { key: ROLLOUT_TAG_KEY, value: rolloutTagValue(pipeline, channel, architecture) },
    preferences: {
      ...(entry.minHealthyPercentage === undefined
        ? {}
        : { MinHealthyPercentage: entry.minHealthyPercentage }),
      ...(entry.maxHealthyPercentage === undefined
        ? {}
        : { MaxHealthyPercentage: entry.maxHealthyPercentage }),
      ...(entry.instanceWarmupSeconds === undefined ? {} : { InstanceWarmup: entry.instanceWarmupSeconds }),
    },
  };
};

/**
 * Parse the `rollout` stage parameter: a JSON object keyed by `<pipeline>/<channel>` ('' or `{}`:
 * no channel rolls out). Keys and the JSON shape are checked here; each entry's values by
 * {@link resolveRollout} when a build of its channel starts.
 * @throws Error when the value is not a JSON object of objects, or a key is not `<pipeline>/<channel>`.
 */
export const parseRolloutSettings = (value: string): Record<string, unknown> =>
  parseJsonObjectSetting(value, {
    keyedBy: '"<pipeline>/<channel>"',
    keyProblem: (key) =>
      ROLLOUT_KEY_PATTERN.test(key)
        ? undefined
        : `key "${key}" is not "<pipeline>/<channel>" (lowercase names such as "web/stable", one slash)`,
    entryHint: " ({} for the groups' own preferences)",
  });

/** What happened to one group (`$.rollout.groups[]`). */
export type GroupRefresh =
  | { region: string; group: string; outcome: 'started'; instanceRefreshId: string }
  | { region: string; group: string; outcome: 'in-progress'; detail: string }
  | { region: string; group: string; outcome: 'failed'; error: string };

/** `$.rollout`: RolloutChannel's report (or RolloutIncomplete's, when the step failed as a whole). */
export interface RolloutReport {
  /**
   * `started`: every group found is refreshing; `none`: no group carries the tag;
   * `partial`: a group already had a refresh in progress, a refresh failed or a region could not
   * be searched (the image is promoted all the same: a warning, never a failed build).
   */
  outcome: 'started' | 'none' | 'partial';
  tag: { key: string; value: string };
  /** Regions searched (those the build promoted). */
  regions: string[];
  groups: GroupRefresh[];
  /** Regions whose groups could not be listed. */
  regionErrors: Array<{ region: string; error: string }>;
}

/** The report's outcome from its groups and region errors. */
export const rolloutOutcome = (
  groups: readonly GroupRefresh[],
  regionErrors: readonly unknown[],
): RolloutReport['outcome'] => {
  if (regionErrors.length > 0 || groups.some((group) => group.outcome !== 'started')) return 'partial';
  return groups.length === 0 ? 'none' : 'started';
};

/**
 * The regions a build's rollout covers: those whose channel now names the build's image
 * (`$.promotion.regions[]` with outcome `promoted`), else the promotion's own region when the
 * promotion lists none (a build of one region).
 */
export const promotedRegions = (
  promotion: { outcome: string; regions?: ReadonlyArray<{ region: string; outcome: string }> | undefined },
  homeRegion: string,
): string[] => {
  if (promotion.regions && promotion.regions.length > 0)
    return promotion.regions.filter((entry) => entry.outcome === 'promoted').map((entry) => entry.region);
  return promotion.outcome === 'promoted' ? [homeRegion] : [];
};

/** One line on a rollout for the success report: `2 refreshes started`, `not configured`, … */
export const rolloutSummary = (
  report: (Partial<RolloutReport> & { error?: unknown }) | undefined,
): string => {
  if (!report) return 'not run';
  if (report.error !== undefined) {
    const error = report.error as { Error?: string; Cause?: string };
    return `FAILED (${error.Error ?? 'error'}${error.Cause ? `: ${error.Cause.slice(0, 300)}` : ''}); the image is promoted, refresh the groups by hand`;
  }
  const groups = report.groups ?? [];
  const tag = report.tag ? `${report.tag.key}=${report.tag.value}` : 'the channel tag';
  if (groups.length === 0 && (report.regionErrors ?? []).length === 0)
    return `no Auto Scaling group tagged ${tag} in ${(report.regions ?? []).join(', ') || 'any region'}`;
  const count = (outcome: GroupRefresh['outcome']) => groups.filter((group) => group.outcome === outcome);
  const parts = [`${count('started').length} refresh(es) started`];
  const inProgress = count('in-progress');
  if (inProgress.length > 0)
    parts.push(
      `already refreshing: ${inProgress.map((group) => `${group.region}/${group.group}`).join(', ')}`,
    );
  const failed = count('failed');
  if (failed.length > 0)
    parts.push(
      `failed: ${failed.map((group) => `${group.region}/${group.group} (${group.outcome === 'failed' ? group.error : ''})`).join(', ')}`,
    );
  for (const entry of report.regionErrors ?? []) parts.push(`${entry.region} not searched (${entry.error})`);
  return parts.join('; ');
};
