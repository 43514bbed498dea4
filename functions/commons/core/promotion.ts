/**
 * Promotion and rollback as tag changes. Pure; the caller applies the changes and moves the pointer.
 *
 * A channel keeps a two-step history in `factory:channel` tags:
 * - the promoted candidate gets `<channel>` (current);
 * - the image that was current gets `previous-<channel>`;
 * - the image that was previous is demoted to `retired` (retention may then deregister it).
 */
import {
  byId,
  isReservedChannel,
  previousChannel,
  RETIRED_CHANNEL,
  ROLLED_BACK_CHANNEL,
  TAG,
} from './tags.js';

export interface ChannelImage {
  imageId: string;
  /** ISO 8601 creation time; the newest wins when several carry the same channel tag. */
  createdAt: string;
  tags: Record<string, string>;
}

export interface TagChange {
  imageId: string;
  /** Previous `factory:channel` value, or null when the tag was absent. */
  from: string | null;
  /** New `factory:channel` value. */
  to: string;
}

export interface PromotionPlan {
  channel: string;
  imageId: string;
  /** The image that was current before this promotion (now `previous-<channel>`), or null. */
  previousImageId: string | null;
  /** Ordered: the candidate first, then demotions. Empty when the candidate already is current. */
  changes: TagChange[];
}

const newestFirst = (a: ChannelImage, b: ChannelImage): number =>
  Date.parse(b.createdAt) - Date.parse(a.createdAt) || byId(a.imageId, b.imageId);

/**
 * Plan the tag changes that make `candidate` the current image of `channel`.
 * `currentImages` are the pipeline's images (any channel tag); images of other channels are untouched.
 * Re-running with the same inputs after the changes were applied yields no changes (idempotent).
 */
export const planPromotion = (
  candidate: ChannelImage,
  currentImages: readonly ChannelImage[],
  channel: string,
): PromotionPlan => {
  if (isReservedChannel(channel)) {
    throw new RangeError(`"${channel}" is reserved and cannot be a channel name`);
  }
  const others = currentImages.filter((image) => image.imageId !== candidate.imageId);
  const current = others.filter((image) => image.tags[TAG.channel] === channel).sort(newestFirst);
  const previous = others.filter((image) => image.tags[TAG.channel] === previousChannel(channel));
  const changes: TagChange[] = [];
  const candidateTag = candidate.tags[TAG.channel] ?? null;
  if (candidateTag === channel) {
    // Already promoted (a retried task): nothing to do, and the history is already shifted.
    const prior = others.find((image) => image.tags[TAG.channel] === previousChannel(channel));
    return { channel, imageId: candidate.imageId, previousImageId: prior?.imageId ?? null, changes };
  }
  changes.push({ imageId: candidate.imageId, from: candidateTag, to: channel });
  for (const image of current)
    changes.push({ imageId: image.imageId, from: channel, to: previousChannel(channel) });
  if (current.length > 0) {
    for (const image of previous) {
      changes.push({ imageId: image.imageId, from: previousChannel(channel), to: RETIRED_CHANNEL });
    }
  }
  return { channel, imageId: candidate.imageId, previousImageId: current[0]?.imageId ?? null, changes };
};

export interface RollbackPlan {
  channel: string;
  /** The image the channel points to after the rollback. */
  imageId: string;
  /** The image withdrawn from the channel (tagged `rolled-back`), or null when none was current. */
  withdrawnImageId: string | null;
  changes: TagChange[];
}

/**
 * Plan the tag changes that point `channel` back to `target` (normally its `previous-<channel>` image).
 * Every image currently tagged `<channel>` is tagged `rolled-back` so that a second rollback does
 * not return to it; retention treats `rolled-back` like `retired`.
 */
export const planRollback = (
  target: ChannelImage,
  currentImages: readonly ChannelImage[],
  channel: string,
): RollbackPlan => {
  const withdrawn = currentImages
    .filter((image) => image.imageId !== target.imageId && image.tags[TAG.channel] === channel)
    .sort(newestFirst);
  const changes: TagChange[] = [];
  if (target.tags[TAG.channel] !== channel) {
    changes.push({ imageId: target.imageId, from: target.tags[TAG.channel] ?? null, to: channel });
  }
  for (const image of withdrawn)
    changes.push({ imageId: image.imageId, from: channel, to: ROLLED_BACK_CHANNEL });
  return { channel, imageId: target.imageId, withdrawnImageId: withdrawn[0]?.imageId ?? null, changes };
};
