/**
 * `factory promote <image> --channel <channel>`: point a channel at an image the factory already
 * built, with the pipeline's own step (`steps/promote-image.ts` `promoteImage`) under the channel's
 * promotion lease, so it never interleaves with a build's promotion or a rollback, and with the
 * pipeline's rule of monotonic promotion (`core/promotion-order.ts`): an image replaces the
 * current one only when its build is newer. Moving a channel back to an older image is a rollback
 * (`factory rollback --image`), which marks the withdrawn image so that later rollbacks skip it.
 */

import {
  type Architecture,
  imageArchitecture,
  isArchitecture,
  laneTrack,
} from '#commons/core/architectures.js';
import { decidePromotion, parseBuildOrder } from '#commons/core/promotion-order.js';
import { CANDIDATE_CHANNEL, isPromotedChannelTag, PREVIOUS_CHANNEL_PREFIX, TAG } from '#commons/core/tags.js';
import { InvalidInput } from '#commons/errors.js';
import type {
  ChannelPointer,
  EventPublisher,
  ImageStore,
  PromotionLedger,
  SourceImageResolver,
} from '#commons/ports.js';
import type { Promotion } from '#commons/schemas.js';
import { withPromotionLease } from '#commons/steps/acquire-promotion-lease.js';
import { promoteImage, syncChannelTags } from '#commons/steps/promote-image.js';

export interface PromoteRequest {
  imageId: string;
  channel: string;
  /** When given, the image must be this pipeline's. */
  pipeline?: string | undefined;
}

/** What `factory promote` did: the pipeline's `$.promotion` plus the pipeline. */
export type PromoteResult = Promotion & { pipeline: string };

const channelOfTag = (value: string): string =>
  value.startsWith(PREVIOUS_CHANNEL_PREFIX) ? value.slice(PREVIOUS_CHANNEL_PREFIX.length) : value;

/**
 * Promote an existing image to a channel of its pipeline, on the track of its architecture (each
 * architecture of a pipeline has its own pointer, lease and build order, `core/architectures.ts`).
 *
 * Refused (InvalidInput, nothing changed): an image that does not exist or carries no
 * `factory:pipeline`; another pipeline's image; an unpromoted candidate (`factory:channel=candidate`:
 * its build is still running or failed its probe, and only the build promotes it); an image that
 * serves another channel (`factory:channel` holds one channel); an image whose build is not newer
 * than the channel's current image (use a rollback to go back).
 *
 * The image's place in the build order is its `factory:build-order` tag (written when it was first
 * promoted); an image that never had one (superseded before promotion) is ordered like a new build
 * of its source AMI: the source AMI's creation time and the pipeline's next build sequence number.
 * @returns the promotion (`outcome: promoted`; `reason: already current` when it already was).
 * @throws InvalidInput as above; PromotionLeaseHeld while a promotion of the channel runs (try again).
 */
export const promoteToChannel = async (
  request: PromoteRequest,
  ports: {
    images: ImageStore;
    pointer: ChannelPointer;
    ledger: PromotionLedger;
    sources: SourceImageResolver;
    events: EventPublisher;
  },
  options: { holder: string; ttlSeconds?: number },
): Promise<PromoteResult> => {
  const { imageId, channel } = request;
  const image = await ports.images.getImage(imageId);
  if (!image) throw new InvalidInput(`image ${imageId} does not exist (or is not this account's)`);
  const pipeline = image.tags[TAG.pipeline];
  if (!pipeline)
    throw new InvalidInput(`image ${imageId} has no ${TAG.pipeline} tag: it is not a factory image`);
  if (request.pipeline !== undefined && request.pipeline !== pipeline) {
    throw new InvalidInput(`image ${imageId} belongs to pipeline ${pipeline}, not ${request.pipeline}`);
  }
  const tag = image.tags[TAG.channel];
  if (tag === CANDIDATE_CHANNEL) {
    throw new InvalidInput(
      `image ${imageId} is an unpromoted candidate (${TAG.channel}=${CANDIDATE_CHANNEL}): its build has not promoted it, so it is still being tested or failed its probe; only the build promotes its own candidate`,
    );
  }
  if (isPromotedChannelTag(tag) && channelOfTag(tag as string) !== channel) {
    throw new InvalidInput(
      `image ${imageId} serves channel ${channelOfTag(tag as string)} (${TAG.channel}=${tag}); an image serves one channel at a time`,
    );
  }
  // The image's architecture picks the channel's track (core/architectures.ts).
  const runs = imageArchitecture(image);
  if (!isArchitecture(runs))
    throw new InvalidInput(`image ${imageId} is ${runs}, which the factory does not build`);
  const lane = { pipeline, architecture: runs as Architecture };
  const track = laneTrack(lane);
  return withPromotionLease(ports.ledger, { pipeline: track, channel, ...options }, async () => {
    const current = await ports.pointer.current(track, channel);
    const recorded = parseBuildOrder(image.tags[TAG.buildOrder]);
    if (current?.imageId === imageId && recorded === undefined) {
      // Current since before build orders were recorded: nothing to move; the tags are repaired.
      const plan = await syncChannelTags(lane, channel, ports);
      return {
        outcome: 'promoted',
        channel,
        imageId,
        previousImageId: plan.previousImageId,
        currentImageId: imageId,
        reason: 'already current',
        parameterName: current.location,
        parameterVersion: current.version,
        pipeline,
      };
    }
    const currentImage = current ? await ports.images.getImage(current.imageId) : undefined;
    const order = recorded ?? (await orderOfUnordered(image.tags, imageId, track, ports));
    const decision = decidePromotion({
      candidateImageId: imageId,
      candidate: order,
      currentImageId: current?.imageId,
      current: parseBuildOrder(currentImage?.tags[TAG.buildOrder]),
    });
    if (decision.action === 'supersede') {
      throw new InvalidInput(
        `image ${imageId} is not newer than the current image of ${pipeline}/${channel}: ${decision.reason}; to move the channel back to it, roll back: factory rollback --pipeline ${pipeline} --channel ${channel} --image ${imageId}`,
      );
    }
    const promotion = await promoteImage(
      {
        build: {
          buildId: image.tags[TAG.buildId] ?? imageId,
          pipeline,
          architecture: lane.architecture,
          channel,
          order,
        },
        candidate: { imageId },
      },
      ports,
    );
    return { ...promotion, pipeline };
  });
};

/** The order of an image that records none: its source AMI's creation time, the next build sequence. */
const orderOfUnordered = async (
  tags: Record<string, string>,
  imageId: string,
  track: string,
  ports: { ledger: PromotionLedger; sources: SourceImageResolver },
) => {
  const sourceId = tags[TAG.sourceAmi];
  const source = sourceId ? await ports.sources.describe(sourceId) : undefined;
  if (!source?.createdAt || Number.isNaN(Date.parse(source.createdAt))) {
    throw new InvalidInput(
      `image ${imageId} records no ${TAG.buildOrder} and its source image ${sourceId ?? '(untagged)'} cannot be dated, so it cannot be placed in the build order of ${track}`,
    );
  }
  return {
    sourceCreatedAt: new Date(source.createdAt).toISOString(),
    sequence: await ports.ledger.nextSequence(track),
  };
};
