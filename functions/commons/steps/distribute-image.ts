/**
 * The steps of the `DistributeImage` Map state (one iteration per region of
 * `$.build.distribution.regions`, the stack's own region first) and of `CheckDistribution` after
 * it. Rules in `core/distribution.ts`.
 *
 * - `CopyImageToRegion` → {@link copyImageToRegion}: starts `CopyImage` in the region (client
 *   token: retries make no second copy; the candidate's tags copied with it); in the stack's own
 *   region the candidate itself is the region's image.
 * - `CheckRegionCopy` → {@link checkRegionCopy}: one look at the copy (bounded poll in the ASL).
 * - `ShareRegionCopy` → {@link shareRegionCopy}: launch permissions and snapshot create-volume
 *   permissions for the share targets.
 * - `CheckDistribution` → {@link checkDistribution}: the fail policy over every region.
 */
import { copyClientToken, type RegionOutcome, settleDistribution } from '../core/distribution.js';
import { CANDIDATE_CHANNEL, TAG } from '../core/tags.js';
import { DistributionFailed, InvalidInput, RegionCopyFailed } from '../errors.js';
import type { ImageDistributor } from '../ports.js';
import type { Build, Candidate, DistributionVerdict, RegionCopy, RegionCopyCheck } from '../schemas.js';

type RegionTarget = NonNullable<Build['distribution']>['regions'][number];

/** The build's distribution. @throws InvalidInput when PrepareBuild did not set one. */
const distributionOf = (build: Build) => {
  if (!build.distribution)
    throw new InvalidInput(`build ${build.buildId} has no distribution (set by PrepareBuild)`);
  return build.distribution;
};

/** The stack's own region (where the candidate was baked). */
const homeRegionOf = (build: Build): string => {
  const home = distributionOf(build).regions.find((target) => target.home);
  if (!home) throw new InvalidInput(`build ${build.buildId} has no home region in its distribution`);
  return home.region;
};

/**
 * State `CopyImageToRegion`: the region's image. At home it is the candidate (no copy); elsewhere
 * `CopyImage` of the candidate into `target.region`, encrypted with `target.kmsKeyId` (else the
 * region's default EBS key), with the candidate's tags, named like the candidate. The client token
 * is the build id and region ({@link copyClientToken}), so a retried task returns the same copy.
 * @returns `$.copy` of the iteration.
 */
export async function copyImageToRegion(
  input: { build: Build; candidate: Pick<Candidate, 'imageId' | 'name'>; target: RegionTarget },
  ports: { distributor: Pick<ImageDistributor, 'copy'> },
): Promise<RegionCopy> {
  const { build, candidate, target } = input;
  if (target.home) return { region: target.region, imageId: candidate.imageId, copied: false };
  const { imageId } = await ports.distributor.copy({
    sourceImageId: candidate.imageId,
    sourceRegion: homeRegionOf(build),
    region: target.region,
    name: candidate.name,
    kmsKeyId: target.kmsKeyId,
    clientToken: copyClientToken(build.buildId, target.region),
    snapshotTags: {
      [TAG.pipeline]: build.pipeline,
      [TAG.buildId]: build.buildId,
      [TAG.channel]: CANDIDATE_CHANNEL,
    },
  });
  return { region: target.region, imageId, copied: true };
}

/** EC2 image states after which a copy never becomes available. */
const DEAD_STATES = new Set(['failed', 'error', 'invalid', 'deregistered', 'disabled']);

/**
 * State `CheckRegionCopy`: one look at the region's image. The ASL waits between looks and stops
 * at its attempt bound (`IsRegionCopyAvailable`).
 * @returns `$.copyCheck` (`attempt` = previous + 1).
 * @throws RegionCopyFailed when the copy is in a state it never leaves (failed, deregistered, …).
 */
export async function checkRegionCopy(
  input: { copy: RegionCopy; copyCheck?: RegionCopyCheck | undefined },
  ports: { distributor: Pick<ImageDistributor, 'describe'> },
): Promise<RegionCopyCheck> {
  const { copy } = input;
  const attempt = (input.copyCheck?.attempt ?? 0) + 1;
  const { state, snapshotIds } = await ports.distributor.describe(copy.region, copy.imageId);
  if (DEAD_STATES.has(state)) throw new RegionCopyFailed(copy.region, copy.imageId, `image state ${state}`);
  return { available: state === 'available', attempt, state, snapshotIds };
}

/**
 * State `ShareRegionCopy`: grant the share targets (`$.build.distribution.shareWith`) launch
 * permission on the region's image and create-volume permission on its snapshots; nothing when
 * there are no targets.
 * @returns the region's outcome (`distributed`), the Map iteration's result.
 */
export async function shareRegionCopy(
  input: { build: Build; copy: RegionCopy; copyCheck: RegionCopyCheck },
  ports: { distributor: Pick<ImageDistributor, 'share'> },
): Promise<Extract<RegionOutcome, { outcome: 'distributed' }>> {
  const { copy, copyCheck } = input;
  const targets = distributionOf(input.build).shareWith;
  if (targets.accounts.length + targets.organizations.length + targets.organizationalUnits.length > 0)
    await ports.distributor.share(copy.region, copy.imageId, copyCheck.snapshotIds, targets);
  return {
    region: copy.region,
    outcome: 'distributed',
    imageId: copy.imageId,
    snapshotIds: copyCheck.snapshotIds,
  };
}

/**
 * State `CheckDistribution`: the fail policy (`core/distribution.ts` `settleDistribution`) over
 * what every region reported (`$.regionOutcomes`, the Map state's result).
 * @returns `$.distributionVerdict`: the regions to promote (the stack's own first) and those that failed.
 * @throws DistributionFailed when no region is promoted (a region failed under `promote-none`,
 *   or the stack's own region failed); its message names each failed region and why.
 */
export async function checkDistribution(input: {
  build: Build;
  regionOutcomes: RegionOutcome[];
}): Promise<DistributionVerdict> {
  const verdict = settleDistribution(distributionOf(input.build), input.regionOutcomes);
  if ('refused' in verdict) throw new DistributionFailed(verdict.refused);
  return verdict;
}
