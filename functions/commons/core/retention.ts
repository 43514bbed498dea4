/**
 * Retention: which of a pipeline's images to deregister. Pure; no AWS or filesystem access.
 *
 * The rule as the owner wrote it: deregister images older than `maxAgeDays` (30), always keep the
 * newest `keepLatest` (3). Around it, everything that may still be needed is kept. Rules, in order
 * of precedence (the first that applies gives the reason):
 * 1. Scope. Only images tagged `factory:pipeline=<pipeline>` whose `factory:stage` tag equals
 *    `stage` (both absent counts as equal) and whose architecture is `architecture` (default
 *    x86_64; `core/architectures.ts` `imageArchitecture`: EC2's, else the tag, else x86_64) are
 *    considered. Any other image (another pipeline's, another stage's, another architecture's,
 *    untagged) is *foreign*: it never appears in the plan at all, so an arm64 build never
 *    deregisters an x86_64 image nor counts it among the newest, and the other way round.
 * 2. `factory:protected=true` → keep (`protected`).
 * 3. The current image of *any* channel of the pipeline, read from the channel pointers
 *    (`channels[].history[0]`) → keep (`current`).
 * 4. The previous image of any channel: the newest position in the pointer's history that names
 *    another image than the current one → keep (`previous`).
 * 5. Promoted by tag (`factory:channel` is a channel name or `previous-<channel>`), or listed in
 *    `promotedImageIds` (e.g. this execution's promotion) → keep (`promoted`). The pointers are the
 *    source of truth; tags only ever add protection, so a half-applied promotion keeps more.
 * 6. In use by instances or launch templates → keep (`in-use`).
 * 7. Referenced by an SSM parameter → keep (`referenced`).
 * 8. Public, or shared with other accounts / organizations → keep (`shared`).
 * 9. Launched within the last `recentLaunchDays` (7) according to `lastLaunchedAt` (EC2
 *    `LastLaunchedTime`) → keep (`recently-launched`). An unparseable launch time is treated as
 *    recent: never delete what we cannot date.
 * 10. Among the newest `keepLatest` images in scope (by `createdAt`, ties broken by image id) →
 *    keep (`newest`). This counts every image in scope, so at least `keepLatest` survive.
 * 11. Age. An image is *older than `maxAgeDays`* when `now - createdAt` is strictly greater than
 *    `maxAgeDays × 86 400 000` ms. An image exactly 30 days old (to the millisecond) is kept; one a
 *    millisecond older is deregistered (`expired`), else kept (`within-age`). An unparseable
 *    `createdAt` is kept (`unknown-age`).
 */
import { type Architecture, isOfArchitecture } from './architectures.js';
import { byId, isPromotedChannelTag, TAG } from './tags.js';

/** Minimal image shape retention needs (an `ImageRecord` fits). */
export interface RetentionImage {
  imageId: string;
  /** ISO 8601 creation time. */
  createdAt: string;
  tags: Record<string, string>;
  /** ISO 8601 time the image last launched an instance (EC2 `LastLaunchedTime`), when known. */
  lastLaunchedAt?: string | undefined;
  /** True when the image is public (EC2 `Public`). */
  public?: boolean | undefined;
  /** CPU architecture (EC2 `Architecture`), when known. */
  architecture?: string | undefined;
}

/** One channel pointer with its history (any order; the highest version is the current one). */
export interface ChannelTrail {
  channel: string;
  history: ReadonlyArray<{ imageId: string; version: number }>;
}

export type RetentionReason =
  | 'protected'
  | 'current'
  | 'previous'
  | 'promoted'
  | 'in-use'
  | 'referenced'
  | 'shared'
  | 'recently-launched'
  | 'newest'
  | 'within-age'
  | 'unknown-age'
  | 'expired';

export interface RetentionDecision {
  imageId: string;
  action: 'deregister' | 'keep';
  reason: RetentionReason;
  /** Age in whole days (floor), or null when `createdAt` is not a date. */
  ageDays: number | null;
}

export interface RetentionInput {
  images: readonly RetentionImage[];
  /** Evaluation instant. */
  now: Date;
  pipeline: string;
  /** The stage whose images are in scope (`factory:stage` tag); undefined: images without the tag. */
  stage?: string | undefined;
  /** The architecture whose images are in scope (default x86_64). */
  architecture?: Architecture | undefined;
  /** Age limit in days (default 30). */
  maxAgeDays?: number;
  /** Newest images always kept (default 3). */
  keepLatest?: number;
  /** Images launched within this many days are kept (default 7). */
  recentLaunchDays?: number;
  /** Every channel pointer of the pipeline with its history. */
  channels?: readonly ChannelTrail[];
  promotedImageIds?: readonly string[];
  inUseImageIds?: readonly string[];
  referencedImageIds?: readonly string[];
  sharedImageIds?: readonly string[];
}

export const DEFAULT_MAX_AGE_DAYS = 30;
export const DEFAULT_KEEP_LATEST = 3;
export const DEFAULT_RECENT_LAUNCH_DAYS = 7;
const DAY_MS = 86_400_000;
/** Undated images sort last (oldest). */
const sortKey = (createdMs: number): number =>
  Number.isNaN(createdMs) ? Number.NEGATIVE_INFINITY : createdMs;

/** True when the image belongs to the run's pipeline, stage and architecture (default x86_64). */
export const inScope = (
  image: Pick<RetentionImage, 'tags' | 'architecture'>,
  pipeline: string,
  stage: string | undefined,
  architecture?: Architecture | undefined,
): boolean =>
  image.tags[TAG.pipeline] === pipeline &&
  image.tags[TAG.stage] === stage &&
  isOfArchitecture(image, architecture);

/**
 * Current and previous image of each channel, from the pointer histories.
 * @returns `current` and `previous` id sets (an image can be in both, for different channels).
 */
export const pointedImages = (
  channels: readonly ChannelTrail[],
): { current: Set<string>; previous: Set<string> } => {
  const current = new Set<string>();
  const previous = new Set<string>();
  for (const trail of channels) {
    const ordered = [...trail.history].sort((a, b) => b.version - a.version);
    const head = ordered[0];
    if (head === undefined) continue;
    current.add(head.imageId);
    const before = ordered.find((position) => position.imageId !== head.imageId);
    if (before !== undefined) previous.add(before.imageId);
  }
  return { current, previous };
};

const nonNegative = (name: string, value: number): number => {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be >= 0`);
  return value;
};

/**
 * Decide, for each of the pipeline's images, whether to deregister or keep it.
 * @returns one decision per image in scope, newest first; foreign images are omitted.
 * @throws RangeError when `maxAgeDays`, `recentLaunchDays` or `keepLatest` is negative or not
 *   finite, or `keepLatest` is not an integer.
 */
export const planRetention = (input: RetentionInput): RetentionDecision[] => {
  const maxAgeDays = nonNegative('maxAgeDays', input.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS);
  const recentDays = nonNegative('recentLaunchDays', input.recentLaunchDays ?? DEFAULT_RECENT_LAUNCH_DAYS);
  const keepLatest = input.keepLatest ?? DEFAULT_KEEP_LATEST;
  if (!Number.isInteger(keepLatest) || keepLatest < 0)
    throw new RangeError('keepLatest must be an integer >= 0');
  const { current, previous } = pointedImages(input.channels ?? []);
  const promoted = new Set(input.promotedImageIds ?? []);
  const inUse = new Set(input.inUseImageIds ?? []);
  const referenced = new Set(input.referencedImageIds ?? []);
  const shared = new Set(input.sharedImageIds ?? []);
  const nowMs = input.now.getTime();

  const launchedRecently = (image: RetentionImage): boolean => {
    if (image.lastLaunchedAt === undefined || image.lastLaunchedAt === '') return false;
    const launchedMs = Date.parse(image.lastLaunchedAt);
    return Number.isNaN(launchedMs) || nowMs - launchedMs <= recentDays * DAY_MS;
  };

  const ours = input.images
    .filter((image) => inScope(image, input.pipeline, input.stage, input.architecture))
    .map((image) => ({ image, createdMs: Date.parse(image.createdAt) }))
    .sort((a, b) => {
      const dateA = sortKey(a.createdMs);
      const dateB = sortKey(b.createdMs);
      if (dateA !== dateB) return dateB > dateA ? 1 : -1;
      return byId(a.image.imageId, b.image.imageId);
    });

  const protection = (image: RetentionImage, rank: number): RetentionReason | undefined => {
    const id = image.imageId;
    if (image.tags[TAG.protected] === 'true') return 'protected';
    if (current.has(id)) return 'current';
    if (previous.has(id)) return 'previous';
    if (promoted.has(id) || isPromotedChannelTag(image.tags[TAG.channel])) return 'promoted';
    if (inUse.has(id)) return 'in-use';
    if (referenced.has(id)) return 'referenced';
    if (image.public === true || shared.has(id)) return 'shared';
    if (launchedRecently(image)) return 'recently-launched';
    if (rank < keepLatest) return 'newest';
    return undefined;
  };

  return ours.map(({ image, createdMs }, rank): RetentionDecision => {
    const ageMs = nowMs - createdMs;
    const ageDays = Number.isNaN(createdMs) ? null : Math.floor(ageMs / DAY_MS);
    const decide = (action: RetentionDecision['action'], reason: RetentionReason): RetentionDecision => ({
      imageId: image.imageId,
      action,
      reason,
      ageDays,
    });
    const kept = protection(image, rank);
    if (kept !== undefined) return decide('keep', kept);
    if (Number.isNaN(createdMs)) return decide('keep', 'unknown-age');
    if (ageMs > maxAgeDays * DAY_MS) return decide('deregister', 'expired');
    return decide('keep', 'within-age');
  });
};
