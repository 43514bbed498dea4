import { isOfArchitecture, type Lane, laneTrack } from '../core/architectures.js';
import { buildSuperseded, imagePromoted, type ProbeFacts } from '../core/events.js';
import { planChannelTags } from '../core/promotion.js';
import { decidePromotion, formatBuildOrder, parseBuildOrder } from '../core/promotion-order.js';
import { RETIRED_CHANNEL, TAG } from '../core/tags.js';
import { CandidateNotFound, InvalidInput } from '../errors.js';
import type { ChannelPointer, EventPublisher, ImageRecord, ImageStore, RegionalPorts } from '../ports.js';
import type { Build, Candidate, DistributionVerdict, Promotion } from '../schemas.js';

/** The images of `lane`: tagged with its pipeline and of its architecture (`core/architectures.ts`). */
export const laneImages = async (
  images: Pick<ImageStore, 'findImages'>,
  lane: Lane,
): Promise<ImageRecord[]> =>
  (await images.findImages({ [TAG.pipeline]: lane.pipeline })).filter((image) =>
    isOfArchitecture(image, lane.architecture),
  );

/**
 * Make the channel's `factory:channel` tags agree with its pointer (`core/promotion.ts`
 * `planChannelTags`), among the images of `lane` (a pipeline's architecture: the x86_64 and arm64
 * channels of one pipeline have a pointer each). Used by PromoteImage after the pointer moved, and
 * by CleanupAfterFailure to repair a promotion that failed part-way.
 * @param images the lane's images, when already read.
 * @returns the plan that was applied.
 */
export async function syncChannelTags(
  lane: Lane,
  channel: string,
  ports: { images: ImageStore; pointer: ChannelPointer },
  images?: readonly ImageRecord[],
) {
  const all = images ?? (await laneImages(ports.images, lane));
  const plan = planChannelTags(await ports.pointer.history(laneTrack(lane), channel), all, channel);
  for (const change of plan.changes)
    await ports.images.tagImage(change.imageId, { [TAG.channel]: change.to });
  return plan;
}

/**
 * State `PromoteImage` (run while the execution holds the channel's promotion lease): make the
 * candidate the channel's current image, unless a build at least as new is current.
 *
 * The pointer (with its version history) is the source of truth; tags follow it:
 * 1. read the images of the build's pipeline and architecture, and the pointer of that track
 *    (`core/architectures.ts`);
 * 2. superseded (`core/promotion-order.ts`): tag the candidate `retired`, retag the channel from
 *    the pointer history (a no-op unless an earlier promotion's cleanup failed) and return
 *    `outcome: superseded`; the pointer stays as it is;
 * 3. tag the candidate with its `factory:build-order` (before the pointer names it, so the current
 *    image always records its order);
 * 4. point the channel at the candidate (skipped when it already does: a retry);
 * 5. retag the channel from the pointer history (`syncChannelTags`);
 * 6. publish `Image Promoted` (or, at 2, `Build Superseded`) with the probe summary of
 *    `$.probeResult` (`core/events.ts`).
 * Interrupted anywhere, re-running the step, or CleanupAfterFailure's repair, converges on the
 * same pointer and tags, and publishes the event again (at least once: consumers dedupe on the
 * build id). `factory promote` (`cli/promote.ts`) runs it too, for an image that is
 * already registered, under the same lease: only the build's id, pipeline, channel and order are read.
 * @returns `$.promotion`.
 * @throws CandidateNotFound when the candidate is gone or not the pipeline's; InvalidInput when the
 *   build has no `order` (PrepareBuild sets it); EventPublishFailed when the event was not
 *   published (the pointer and tags are already in place: the ASL retries the step).
 */
export async function promoteImage(
  input: {
    build: Pick<Build, 'buildId' | 'pipeline' | 'channel' | 'order'> & Partial<Build>;
    candidate: Pick<Candidate, 'imageId'> & Partial<Candidate>;
    /** `$.probeResult`: its summary goes into the event (absent for `factory promote`). */
    probeResult?: ProbeFacts | undefined;
  },
  ports: { images: ImageStore; pointer: ChannelPointer; events: EventPublisher },
): Promise<Promotion> {
  const { build, candidate, probeResult } = input;
  if (!build.order) throw new InvalidInput(`build ${build.buildId} has no order (set by PrepareBuild)`);
  const images = await laneImages(ports.images, build);
  const record = images.find((image) => image.imageId === candidate.imageId);
  if (!record) throw new CandidateNotFound(build.buildId);
  const track = laneTrack(build);
  const current = await ports.pointer.current(track, build.channel);
  const currentRecord = images.find((image) => image.imageId === current?.imageId);
  const decision = decidePromotion({
    candidateImageId: candidate.imageId,
    candidate: build.order,
    currentImageId: current?.imageId,
    current: parseBuildOrder(currentRecord?.tags[TAG.buildOrder]),
  });
  if (decision.action === 'supersede' && current) {
    if (record.tags[TAG.channel] !== RETIRED_CHANNEL) {
      await ports.images.tagImage(candidate.imageId, { [TAG.channel]: RETIRED_CHANNEL });
    }
    // Under the lease, a superseded build still puts the channel's tags back in agreement with
    // the pointer, which an earlier execution's failed cleanup may have left behind.
    await syncChannelTags(build, build.channel, ports, images);
    await ports.events.publish([
      buildSuperseded(ports.events.origin, {
        build,
        image: record,
        currentImageId: current.imageId,
        reason: decision.reason,
        pointer: { parameterName: current.location, parameterVersion: current.version },
        probe: probeResult,
      }),
    ]);
    return {
      outcome: 'superseded',
      channel: build.channel,
      imageId: candidate.imageId,
      previousImageId: null,
      currentImageId: current.imageId,
      reason: decision.reason,
      parameterName: current.location,
      parameterVersion: current.version,
    };
  }
  const order = formatBuildOrder(build.order);
  if (record.tags[TAG.buildOrder] !== order) {
    await ports.images.tagImage(candidate.imageId, { [TAG.buildOrder]: order });
  }
  const position =
    current?.imageId === candidate.imageId
      ? current
      : await ports.pointer.point(track, build.channel, candidate.imageId);
  const plan = await syncChannelTags(build, build.channel, ports, images);
  await ports.events.publish([
    imagePromoted(ports.events.origin, {
      build,
      image: record,
      previousImageId: plan.previousImageId,
      pointer: { parameterName: position.location, parameterVersion: position.version },
      probe: probeResult,
    }),
  ]);
  return {
    outcome: 'promoted',
    channel: build.channel,
    imageId: candidate.imageId,
    previousImageId: plan.previousImageId,
    currentImageId: candidate.imageId,
    reason: decision.reason,
    parameterName: position.location,
    parameterVersion: position.version,
  };
}

/**
 * State `PromoteImage` with distribution: {@link promoteImage} in every region the verdict of
 * `CheckDistribution` promotes (`$.distributionVerdict.promote`, the stack's own region first),
 * each with that region's image, channel pointer (the SSM parameter of the same name in that
 * region) and events (whose `region` is that region). Each region decides on its own whether the
 * build is newer than what its channel names. Regions that failed distribution are not touched
 * and are listed in `unpromotedRegions`. Without a verdict (a build from before distribution) only
 * the stack's own region is promoted, as before.
 * Re-running converges region by region, as {@link promoteImage} does.
 * @returns `$.promotion`: the stack's own region's promotion, with `regions` (every promoted region).
 * @throws what {@link promoteImage} throws, in the first region that fails (the regions before it
 *   are promoted; the ASL retries the step or goes to CleanupAfterFailure, which repairs the tags).
 */
export async function promoteImageInRegions(
  input: {
    build: Pick<Build, 'buildId' | 'pipeline' | 'channel' | 'order'> & Partial<Build>;
    candidate: Pick<Candidate, 'imageId'> & Partial<Candidate>;
    probeResult?: ProbeFacts | undefined;
    distributionVerdict?: DistributionVerdict | undefined;
  },
  ports: RegionalPorts & { homeRegion: string },
): Promise<Promotion> {
  const promote = input.distributionVerdict?.promote ?? [
    { region: ports.homeRegion, imageId: input.candidate.imageId },
  ];
  const regions: NonNullable<Promotion['regions']> = [];
  let home: Promotion | undefined;
  for (const { region, imageId } of promote) {
    const promotion = await promoteImage(
      { ...input, candidate: region === ports.homeRegion ? input.candidate : { imageId } },
      { images: ports.images(region), pointer: ports.pointer(region), events: ports.events(region) },
    );
    if (region === ports.homeRegion) home = promotion;
    regions.push({
      region,
      outcome: promotion.outcome,
      imageId: promotion.imageId,
      previousImageId: promotion.previousImageId,
      ...(promotion.currentImageId ? { currentImageId: promotion.currentImageId } : {}),
      parameterName: promotion.parameterName,
      parameterVersion: promotion.parameterVersion,
    });
  }
  if (!home)
    throw new InvalidInput(
      `the distribution verdict does not promote the stack's own region ${ports.homeRegion}`,
    );
  const failed = input.distributionVerdict?.failed ?? [];
  return { ...home, regions, ...(failed.length > 0 ? { unpromotedRegions: failed } : {}) };
}
