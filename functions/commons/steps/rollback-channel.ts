import { type Architecture, type Lane, laneTrack } from '../core/architectures.js';
import { imageRolledBack } from '../core/events.js';
import { planRollback } from '../core/promotion.js';
import { previousChannel, RETIRED_CHANNEL, ROLLED_BACK_CHANNEL, TAG } from '../core/tags.js';
import { EventPublishFailed, InvalidInput } from '../errors.js';
import type {
  ChannelPointer,
  ChannelPosition,
  EventPublisher,
  ImageRecord,
  ImageStore,
  PromotionLedger,
  RegionalPorts,
} from '../ports.js';
import { withPromotionLease } from './acquire-promotion-lease.js';
import { laneImages, syncChannelTags } from './promote-image.js';

/** What a rollback names: a channel of a pipeline's architecture (absent: x86_64), optionally the target. */
type RollbackRequest = Lane & {
  channel: string;
  imageId?: string | undefined;
  architecture?: Architecture | undefined;
};

export interface RollbackResult {
  pipeline: string;
  /** Present for arm64 (absent: x86_64). */
  architecture?: Architecture;
  channel: string;
  imageId: string;
  withdrawnImageId: string | null;
  parameterName: string;
  parameterVersion: number;
  /** With distribution: every other region's rollback, to its copy of the same build. */
  regions?: Array<RollbackResult & { region: string }>;
}

/** The other regions of a distributed pipeline (`core/distribution.ts`), and their ports. */
export interface RollbackRegions {
  names: readonly string[];
  ports: RegionalPorts;
}

/**
 * Manual rollback: point a channel of a pipeline's architecture (`input.architecture`, default
 * x86_64; each has its own pointer, `core/architectures.ts`) back to its previous promoted image
 * (or to `imageId`, which must be of that architecture).
 * The pointer (with its history) is the source of truth, as for promotion. The target is `imageId`,
 * else the newest entry of the pointer history that is not the current image, still exists and was
 * not withdrawn by an earlier rollback (the image tagged `previous-<channel>` when the tags agree
 * with the pointer); a channel without a pointer falls back to that tag. The image the pointer
 * names is withdrawn: tagged `rolled-back`, so repeated rollbacks walk further back instead of
 * returning to it. Tags that lag behind the pointer (a promotion whose cleanup failed) neither
 * choose the target nor the withdrawn image; the retagging from the pointer then fixes them.
 *
 * Runs under the channel's promotion lease (held by `options.holder`, released on every path), so
 * it never interleaves with a PromoteImage of the same channel. The pointer moves after the
 * withdrawal marks, then the channel's tags are rebuilt from the pointer (`syncChannelTags`); if it
 * fails part-way, running it again (or the next promotion) puts the tags back in agreement.
 * Last, still under the lease, it publishes `Image Rolled Back` (`core/events.ts`); `previousImageId`
 * is the image of the pointer version before the target's.
 * @throws InvalidInput when there is no target, or the target is not an available image of the
 *   pipeline; PromotionLeaseHeld while a promotion of the channel is running (try again);
 *   EventPublishFailed when the channel was rolled back but the event was not published: the
 *   message names the target, and rolling back again with that `imageId` (which moves nothing
 *   more) publishes it. Without `imageId` a second run would roll back one image further.
 */
export async function rollbackChannel(
  input: RollbackRequest,
  ports: {
    images: ImageStore;
    pointer: ChannelPointer;
    ledger: PromotionLedger;
    events: EventPublisher;
    /** A distributed pipeline's other regions: they move with the stack's own region. */
    regions?: RollbackRegions | undefined;
  },
  options: { holder: string; ttlSeconds?: number },
): Promise<RollbackResult> {
  const { channel } = input;
  return withPromotionLease(ports.ledger, { pipeline: laneTrack(input), channel, ...options }, () =>
    ports.regions && ports.regions.names.length > 0
      ? rollBackEveryRegion(input, ports, ports.regions)
      : rollBack(input, ports),
  );
}

/**
 * Every region together: the stack's own region's target (as {@link rollBack} picks it) names a
 * build; each other region rolls back to its copy of that build (the copy carries the build's
 * `factory:build-id`, copied with its tags). Nothing moves unless every region has such a copy.
 * @throws InvalidInput naming the regions without a copy of the target build (nothing moved).
 */
const rollBackEveryRegion = async (
  input: RollbackRequest,
  ports: { images: ImageStore; pointer: ChannelPointer; events: EventPublisher },
  regions: RollbackRegions,
): Promise<RollbackResult> => {
  const { pipeline, channel, architecture } = input;
  const track = laneTrack(input);
  const images = await laneImages(ports.images, input);
  const current = await ports.pointer.current(track, channel);
  const targetId = input.imageId ?? (await rollbackTarget(track, channel, images, current, ports.pointer));
  const target = images.find((image) => image.imageId === targetId);
  const buildId = target?.tags[TAG.buildId];
  if (!target || !buildId)
    throw new InvalidInput(
      `image ${targetId ?? '(none)'} is not an available ${architecture ?? 'x86_64'} image of pipeline ${pipeline} with a build id: its copies in ${regions.names.join(', ')} cannot be found`,
    );
  const copies = new Map<string, string>();
  for (const region of regions.names) {
    const [copy] = await regions.ports
      .images(region)
      .findImages({ [TAG.pipeline]: pipeline, [TAG.buildId]: buildId });
    if (copy) copies.set(region, copy.imageId);
  }
  const missing = regions.names.filter((region) => !copies.has(region));
  if (missing.length > 0)
    throw new InvalidInput(
      `cannot roll back ${pipeline}/${channel} in every region together: ${missing.join(', ')} hold no copy of build ${buildId} (${target.imageId}); nothing was moved`,
    );
  const home = await rollBack({ pipeline, architecture, channel, imageId: target.imageId }, ports);
  const moved: NonNullable<RollbackResult['regions']> = [];
  for (const region of regions.names) {
    const result = await rollBack(
      { pipeline, architecture, channel, imageId: copies.get(region) },
      {
        images: regions.ports.images(region),
        pointer: regions.ports.pointer(region),
        events: regions.ports.events(region),
      },
    );
    moved.push({ ...result, region });
  }
  return { ...home, regions: moved };
};

/**
 * The rollback target when none is named: the newest entry of the pointer history that is not
 * the current image, still exists and was not withdrawn by an earlier rollback; without a pointer,
 * the newest image tagged `previous-<channel>`. Undefined when there is none.
 */
const rollbackTarget = async (
  track: string,
  channel: string,
  images: readonly ImageRecord[],
  current: ChannelPosition | undefined,
  pointer: ChannelPointer,
): Promise<string | undefined> => {
  if (current) {
    // Walk the pointer history back, skipping the current image, images withdrawn by an earlier
    // rollback and images that no longer exist (deregistered by retention).
    const rollbackable = new Set(
      images.filter((image) => image.tags[TAG.channel] !== ROLLED_BACK_CHANNEL).map((image) => image.imageId),
    );
    const history = await pointer.history(track, channel);
    return history.find(
      (position) => position.imageId !== current.imageId && rollbackable.has(position.imageId),
    )?.imageId;
  }
  // A channel without a pointer: its tags are all there is.
  return images
    .filter((image) => image.tags[TAG.channel] === previousChannel(channel))
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0]?.imageId;
};

const rollBack = async (
  input: RollbackRequest,
  ports: { images: ImageStore; pointer: ChannelPointer; events: EventPublisher },
): Promise<RollbackResult> => {
  const { pipeline, channel } = input;
  const track = laneTrack(input);
  const images = await laneImages(ports.images, input);
  const current = await ports.pointer.current(track, channel);
  const targetId = input.imageId ?? (await rollbackTarget(track, channel, images, current, ports.pointer));
  if (!targetId)
    throw new InvalidInput(`channel ${pipeline}/${channel} has no previous image to roll back to`);
  const target = images.find((image) => image.imageId === targetId);
  if (!target)
    throw new InvalidInput(
      `image ${targetId} is not an available ${input.architecture ?? 'x86_64'} image of pipeline ${pipeline}`,
    );
  // What is withdrawn is what the pointer names (tags may lag behind it after a failed cleanup);
  // without a pointer, what the tags name.
  const pointed = current
    ? images.map((image) => {
        const tag = image.tags[TAG.channel];
        if (image.imageId === current.imageId)
          return { ...image, tags: { ...image.tags, [TAG.channel]: channel } };
        if (tag === channel) return { ...image, tags: { ...image.tags, [TAG.channel]: RETIRED_CHANNEL } };
        return image;
      })
    : images;
  const plan = planRollback(target, pointed, channel);
  // Only the withdrawals before the pointer moves: the pointer, not a tag, makes the target current.
  // The images read above, with the withdrawals applied, are what the retagging plans from
  // (DescribeImages is eventually consistent: it may not show a tag written a moment ago).
  const withdrawn = new Set<string>();
  for (const change of plan.changes.filter((c) => c.to === ROLLED_BACK_CHANNEL)) {
    await ports.images.tagImage(change.imageId, { [TAG.channel]: change.to });
    withdrawn.add(change.imageId);
  }
  const position =
    current?.imageId === target.imageId ? current : await ports.pointer.point(track, channel, target.imageId);
  const seen = images.map((image) =>
    withdrawn.has(image.imageId)
      ? { ...image, tags: { ...image.tags, [TAG.channel]: ROLLED_BACK_CHANNEL } }
      : image,
  );
  await syncChannelTags(input, channel, ports, seen);
  const result = {
    pipeline,
    ...(input.architecture && input.architecture !== 'x86_64' ? { architecture: input.architecture } : {}),
    channel,
    imageId: target.imageId,
    withdrawnImageId:
      plan.withdrawnImageId ?? (current && current.imageId !== target.imageId ? current.imageId : null),
    parameterName: position.location,
    parameterVersion: position.version,
  };
  // The image of the version before the target's: the one just withdrawn, also when this run
  // found the pointer already moved (a re-run to publish the event again).
  const previousImageId =
    current && current.imageId !== target.imageId
      ? current.imageId
      : ((await ports.pointer.history(track, channel)).find((p) => p.version < position.version)?.imageId ??
        null);
  try {
    await ports.events.publish([
      imageRolledBack(ports.events.origin, {
        pipeline,
        channel,
        image: target,
        previousImageId,
        pointer: { parameterName: position.location, parameterVersion: position.version },
      }),
    ]);
  } catch (error) {
    throw new EventPublishFailed(
      `${pipeline}/${channel} was rolled back to ${target.imageId} (${position.location} v${position.version}), but its event was not published (${(error as Error).message}); roll back again with imageId ${target.imageId} to publish it`,
      { cause: error },
    );
  }
  return result;
};
