/**
 * Promotion and rollback as tag changes. Pure; the caller applies the changes and moves the pointer.
 *
 * A channel keeps a two-step history in `factory:channel` tags, derived from its pointer:
 * - the image the pointer names gets `<channel>` (current);
 * - the image it named before gets `previous-<channel>`;
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

export interface ChannelTagsPlan {
  channel: string;
  /** The image the pointer names (tagged `<channel>`), or null when the channel has no pointer. */
  imageId: string | null;
  /** The channel's previous image (tagged `previous-<channel>`), or null. */
  previousImageId: string | null;
  /** Ordered: the current image first, then the previous one, then demotions to `retired`. */
  changes: TagChange[];
}

const newestFirst = (a: ChannelImage, b: ChannelImage): number =>
  Date.parse(b.createdAt) - Date.parse(a.createdAt) || byId(a.imageId, b.imageId);

/** Refuse the `factory:channel` values that are not channel names (core/tags.ts RESERVED_CHANNELS). */
const assertChannelName = (channel: string): void => {
  if (isReservedChannel(channel)) {
    throw new RangeError(`"${channel}" is reserved and cannot be a channel name`);
  }
};

/**
 * The tag changes that make the `factory:channel` tags of `images` agree with the channel pointer,
 * the source of truth (promotion moves the pointer first, then the tags follow it):
 * - the image the pointer names (`history[0]`) is tagged `<channel>`;
 * - the newest earlier position naming another image that still exists and was not withdrawn by a
 *   rollback (`rolled-back`) is tagged `previous-<channel>`;
 * - any other image tagged `<channel>` or `previous-<channel>` is tagged `retired`.
 * Images of other channels are untouched. Applying the changes and planning again yields none
 * (idempotent), so a promotion interrupted anywhere is repaired by planning again.
 * @param history the pointer's positions, newest first (empty: the channel was never promoted).
 * @param images the pipeline's images.
 * @throws RangeError for a reserved channel name (`candidate`, `retired`, `rolled-back`, `previous-*`).
 */
export const planChannelTags = (
  history: ReadonlyArray<{ imageId: string }>,
  images: readonly ChannelImage[],
  channel: string,
): ChannelTagsPlan => {
  assertChannelName(channel);
  const byImage = new Map(images.map((image) => [image.imageId, image]));
  const currentId = history[0]?.imageId ?? null;
  const previousId =
    history.find(
      (position) =>
        position.imageId !== currentId &&
        byImage.has(position.imageId) &&
        byImage.get(position.imageId)?.tags[TAG.channel] !== ROLLED_BACK_CHANNEL,
    )?.imageId ?? null;
  const changes: TagChange[] = [];
  const set = (imageId: string | null, to: string) => {
    const image = imageId === null ? undefined : byImage.get(imageId);
    const from = image?.tags[TAG.channel] ?? null;
    if (image && from !== to) changes.push({ imageId: image.imageId, from, to });
  };
  set(currentId, channel);
  set(previousId, previousChannel(channel));
  for (const image of [...images].sort(newestFirst)) {
    if (image.imageId === currentId || image.imageId === previousId) continue;
    const tag = image.tags[TAG.channel];
    if (tag === channel || tag === previousChannel(channel)) set(image.imageId, RETIRED_CHANNEL);
  }
  return { channel, imageId: currentId, previousImageId: previousId, changes };
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
