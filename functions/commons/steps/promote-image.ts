import { planPromotion } from '../core/promotion.js';
import { TAG } from '../core/tags.js';
import { CandidateNotFound } from '../errors.js';
import type { ChannelPointer, ImageStore } from '../ports.js';
import type { Build, Candidate, Promotion } from '../schemas.js';

/**
 * State `PromoteImage`: make the candidate the channel's current image.
 * Tags first (candidate → `<channel>`, old current → `previous-<channel>`, old previous →
 * `retired`), then the channel pointer. Safe to retry: both steps are idempotent.
 * @returns `$.promotion` `{ channel, imageId, previousImageId, parameterName, parameterVersion }`.
 * @throws CandidateNotFound when the candidate is gone or not the pipeline's.
 */
export const promoteImage = async (
  input: { build: Build; candidate: Candidate },
  ports: { images: ImageStore; pointer: ChannelPointer },
): Promise<Promotion> => {
  const { build, candidate } = input;
  const images = await ports.images.findImages({ [TAG.pipeline]: build.pipeline });
  const record = images.find((image) => image.imageId === candidate.imageId);
  if (!record) throw new CandidateNotFound(build.buildId);
  const plan = planPromotion(record, images, build.channel);
  for (const change of plan.changes)
    await ports.images.tagImage(change.imageId, { [TAG.channel]: change.to });
  const current = await ports.pointer.current(build.pipeline, build.channel);
  const position =
    current?.imageId === candidate.imageId
      ? current
      : await ports.pointer.point(build.pipeline, build.channel, candidate.imageId);
  const previousImageId =
    plan.previousImageId ?? (current && current.imageId !== candidate.imageId ? current.imageId : null);
  return {
    channel: build.channel,
    imageId: candidate.imageId,
    previousImageId,
    parameterName: position.location,
    parameterVersion: position.version,
  };
};
