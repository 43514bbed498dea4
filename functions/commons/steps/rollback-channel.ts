import { planRollback } from '../core/promotion.js';
import { previousChannel, ROLLED_BACK_CHANNEL, TAG } from '../core/tags.js';
import { InvalidInput } from '../errors.js';
import type { ChannelPointer, ImageStore } from '../ports.js';

export interface RollbackResult {
  pipeline: string;
  channel: string;
  imageId: string;
  withdrawnImageId: string | null;
  parameterName: string;
  parameterVersion: number;
}

/**
 * Manual rollback: point a channel back to its previous promoted image (or to `imageId`).
 * The target is, in order: `imageId`; the image tagged `previous-<channel>`; the newest entry of the
 * pointer history that is not the current image, still exists and was not withdrawn by an earlier
 * rollback. The withdrawn image is tagged `rolled-back`, so repeated rollbacks walk further back
 * instead of returning to it.
 * @throws InvalidInput when there is no target, or the target is not an available image of the pipeline.
 */
export const rollbackChannel = async (
  input: { pipeline: string; channel: string; imageId?: string | undefined },
  ports: { images: ImageStore; pointer: ChannelPointer },
): Promise<RollbackResult> => {
  const { pipeline, channel } = input;
  const images = await ports.images.findImages({ [TAG.pipeline]: pipeline });
  const current = await ports.pointer.current(pipeline, channel);
  let targetId = input.imageId;
  if (!targetId) {
    const tagged = images
      .filter((image) => image.tags[TAG.channel] === previousChannel(channel))
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
    targetId = tagged?.imageId;
  }
  if (!targetId) {
    // Walk the pointer history back, skipping the current image, images withdrawn by an earlier
    // rollback and images that no longer exist (deregistered by retention).
    const rollbackable = new Set(
      images.filter((image) => image.tags[TAG.channel] !== ROLLED_BACK_CHANNEL).map((image) => image.imageId),
    );
    const history = await ports.pointer.history(pipeline, channel);
    targetId = history.find(
      (position) => position.imageId !== current?.imageId && rollbackable.has(position.imageId),
    )?.imageId;
  }
  if (!targetId)
    throw new InvalidInput(`channel ${pipeline}/${channel} has no previous image to roll back to`);
  const target = images.find((image) => image.imageId === targetId);
  if (!target) throw new InvalidInput(`image ${targetId} is not an available image of pipeline ${pipeline}`);
  const plan = planRollback(target, images, channel);
  for (const change of plan.changes)
    await ports.images.tagImage(change.imageId, { [TAG.channel]: change.to });
  const position = await ports.pointer.point(pipeline, channel, target.imageId);
  return {
    pipeline,
    channel,
    imageId: target.imageId,
    withdrawnImageId:
      plan.withdrawnImageId ?? (current && current.imageId !== target.imageId ? current.imageId : null),
    parameterName: position.location,
    parameterVersion: position.version,
  };
};
