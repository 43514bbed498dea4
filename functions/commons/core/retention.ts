/**
 * Retention: which of a pipeline's images to deregister. Pure; no AWS or filesystem access.
 *
 * Rules, in order of precedence (the first that applies gives the reason):
 * 1. Only images tagged `factory:pipeline=<pipeline>` are considered. Any other image (another
 *    pipeline's, or untagged) is *foreign*: it never appears in the plan at all.
 * 2. `factory:protected=true` → keep (`protected`).
 * 3. Promoted: `factory:channel` is a channel name (current) or `previous-<channel>`, or the id is in
 *    `promotedImageIds` (e.g. read from the channel pointer) → keep (`promoted`).
 * 4. In use (instances, launch templates… as reported by the image store) → keep (`in-use`).
 * 5. Among the newest `keepLatest` images of the pipeline (by `createdAt`, ties broken by image id) →
 *    keep (`newest`). This counts every pipeline image, so at least `keepLatest` survive.
 * 6. Age. An image is *older than `maxAgeDays`* when `now - createdAt` is strictly greater than
 *    `maxAgeDays × 86 400 000` ms. An image exactly 30 days old (to the millisecond) is kept; one
 *    a millisecond older is deregistered. Older → `deregister` (`expired`), else keep (`within-age`).
 *    An unparseable `createdAt` is kept (`unknown-age`): never delete what we cannot date.
 */
import { byId, isPromotedChannelTag, TAG } from './tags.js';

/** Minimal image shape retention needs (an `ImageRecord` fits). */
export interface RetentionImage {
  imageId: string;
  /** ISO 8601 creation time. */
  createdAt: string;
  tags: Record<string, string>;
}

export type RetentionReason =
  | 'protected'
  | 'promoted'
  | 'in-use'
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
  /** Age limit in days (default 30). */
  maxAgeDays?: number;
  /** Newest images always kept (default 3). */
  keepLatest?: number;
  promotedImageIds?: readonly string[];
  inUseImageIds?: readonly string[];
}

export const DEFAULT_MAX_AGE_DAYS = 30;
export const DEFAULT_KEEP_LATEST = 3;
const DAY_MS = 86_400_000;
/** Undated images sort last (oldest). */
const sortKey = (createdMs: number): number =>
  Number.isNaN(createdMs) ? Number.NEGATIVE_INFINITY : createdMs;

/**
 * Decide, for each of the pipeline's images, whether to deregister or keep it.
 * @returns one decision per pipeline image, newest first; foreign images are omitted.
 * @throws RangeError when `maxAgeDays` or `keepLatest` is negative or not finite.
 */
export const planRetention = (input: RetentionInput): RetentionDecision[] => {
  const maxAgeDays = input.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
  const keepLatest = input.keepLatest ?? DEFAULT_KEEP_LATEST;
  if (!Number.isFinite(maxAgeDays) || maxAgeDays < 0) throw new RangeError('maxAgeDays must be >= 0');
  if (!Number.isInteger(keepLatest) || keepLatest < 0)
    throw new RangeError('keepLatest must be an integer >= 0');
  const promoted = new Set(input.promotedImageIds ?? []);
  const inUse = new Set(input.inUseImageIds ?? []);
  const nowMs = input.now.getTime();
  const limitMs = maxAgeDays * DAY_MS;

  const ours = input.images
    .filter((image) => image.tags[TAG.pipeline] === input.pipeline)
    .map((image) => ({ image, createdMs: Date.parse(image.createdAt) }))
    .sort((a, b) => {
      const dateA = sortKey(a.createdMs);
      const dateB = sortKey(b.createdMs);
      if (dateA !== dateB) return dateB > dateA ? 1 : -1;
      return byId(a.image.imageId, b.image.imageId);
    });

  return ours.map(({ image, createdMs }, rank): RetentionDecision => {
    const ageMs = nowMs - createdMs;
    const ageDays = Number.isNaN(createdMs) ? null : Math.floor(ageMs / DAY_MS);
    const keep = (reason: RetentionReason): RetentionDecision => ({
      imageId: image.imageId,
      action: 'keep',
      reason,
      ageDays,
    });
    if (image.tags[TAG.protected] === 'true') return keep('protected');
    if (promoted.has(image.imageId) || isPromotedChannelTag(image.tags[TAG.channel])) return keep('promoted');
    if (inUse.has(image.imageId)) return keep('in-use');
    if (rank < keepLatest) return keep('newest');
    if (Number.isNaN(createdMs)) return keep('unknown-age');
    if (ageMs > limitMs) return { imageId: image.imageId, action: 'deregister', reason: 'expired', ageDays };
    return keep('within-age');
  });
};
