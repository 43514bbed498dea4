/**
 * What each channel serves: its current and previous image, as the pipeline itself defines them
 * (`core/promotion.ts` `planChannelTags`: the pointer's head, and the newest earlier position that
 * names another image that still exists and was not withdrawn by a rollback). Pure.
 */
import { planChannelTags } from '#commons/core/promotion.js';
import { TAG } from '#commons/core/tags.js';
import type { ChannelPosition, ImageRecord } from '#commons/ports.js';

/** One image a channel serves (or served just before). */
export interface ChannelImage {
  pipeline: string;
  channel: string;
  /** AWS region, or `local`. */
  region: string;
  position: 'current' | 'previous';
  imageId: string;
  /** False when the pointer names an image that is gone (deregistered) or not the pipeline's. */
  found: boolean;
  name?: string;
  architecture?: string;
  /** ISO 8601 creation time of the image. */
  createdAt?: string;
  buildId?: string;
  commit?: string;
  sourceImageId?: string;
  sourceImageName?: string;
  /** When the pointer moved to this image (ISO 8601) and its version (SSM parameter version). */
  pointedAt?: string;
  version?: number;
  /** Where the pointer lives (SSM parameter name, catalog file). */
  location: string;
}

const present = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> =>
  value === undefined || value === '' ? {} : ({ [key]: value } as Record<K, string>);

/**
 * The current and previous image of one channel.
 * @param history the pointer's positions, newest first (empty: never promoted → no rows).
 * @param images the pipeline's images.
 * @throws RangeError for a reserved channel name (`candidate`, `retired`, …; `planChannelTags`).
 */
export const channelImages = (input: {
  pipeline: string;
  channel: string;
  region: string;
  history: readonly ChannelPosition[];
  images: readonly ImageRecord[];
}): ChannelImage[] => {
  const plan = planChannelTags(input.history, input.images, input.channel);
  const byId = new Map(input.images.map((image) => [image.imageId, image]));
  const rows: ChannelImage[] = [];
  const positions: Array<['current' | 'previous', string | null]> = [
    ['current', plan.imageId],
    ['previous', plan.previousImageId],
  ];
  for (const [position, imageId] of positions) {
    if (imageId === null) continue;
    const image = byId.get(imageId);
    const pointed = input.history.find((entry) => entry.imageId === imageId);
    rows.push({
      pipeline: input.pipeline,
      channel: input.channel,
      region: input.region,
      position,
      imageId,
      found: image !== undefined,
      ...present('name', image?.name),
      ...present('architecture', image?.architecture),
      ...present('createdAt', image?.createdAt),
      ...present('buildId', image?.tags[TAG.buildId]),
      ...present('commit', image?.tags[TAG.commit]),
      ...present('sourceImageId', image?.tags[TAG.sourceAmi]),
      ...present('sourceImageName', image?.tags[TAG.sourceAmiName]),
      ...present('pointedAt', pointed?.updatedAt),
      ...(pointed ? { version: pointed.version } : {}),
      location: input.history[0]?.location ?? '',
    });
  }
  return rows;
};
