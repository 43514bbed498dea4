import { laneTrack } from '../core/architectures.js';
import { PROMOTION_LEASE_TTL_SECONDS } from '../core/promotion-lease.js';
import { CANDIDATE_CHANNEL, TAG } from '../core/tags.js';
import { PromotionLeaseHeld } from '../errors.js';
import type {
  ChannelPointer,
  ImageRecord,
  ImageStore,
  MachineLauncher,
  PromotionLease,
  PromotionLedger,
  RegionalPorts,
  SnapshotOutcome,
} from '../ports.js';
import type { Build, Candidate, CaughtError } from '../schemas.js';
import { syncChannelTags } from './promote-image.js';

export interface CleanupResult {
  terminatedInstanceIds: string[];
  /** The candidate deregistered because the build failed before promotion, or null. */
  deregisteredImageId: string | null;
  snapshots: SnapshotOutcome[];
  /** Why the candidate was or was not deregistered. */
  candidate: 'deregistered' | 'kept' | 'absent';
  /**
   * When the build had taken the channel's promotion lease: the tags retagged to agree with the
   * pointer, and whether the lease was given back (`held-by-other`: it had lapsed and another
   * execution holds it, so the channel was left to that execution).
   */
  channel?: { retagged: number; lease: 'released' | 'held-by-other' };
  /** With distribution, after a failure before promotion: the build's copies in the other regions. */
  copies?: Array<{ region: string; imageId: string; snapshots: SnapshotOutcome[] }>;
}

/**
 * The build's unpromoted candidate, or undefined: `$.candidate` when FindCandidateImage ran, else
 * the newest available image tagged with the build id (a bake that registered its AMI and then
 * failed, timed out or was followed by a failing FindCandidateImage), as FindCandidateImage picks.
 * The image is `deletable` only when it is this build's (`factory:build-id`, so this stage's
 * execution's) and pipeline's, still `factory:channel=candidate` and not `factory:protected=true`.
 * @returns the image found (undefined: none) and whether it may be deregistered.
 */
export async function unpromotedCandidate(
  build: Build,
  candidate: Candidate | undefined,
  images: Pick<ImageStore, 'getImage' | 'findImages'>,
): Promise<{ image: ImageRecord | undefined; deletable: boolean }> {
  const records = candidate
    ? [await images.getImage(candidate.imageId)]
    : (await images.findImages({ [TAG.pipeline]: build.pipeline, [TAG.buildId]: build.buildId })).sort(
        (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt),
      );
  const newest = records[0];
  const deletable =
    newest !== undefined &&
    newest.tags[TAG.pipeline] === build.pipeline &&
    newest.tags[TAG.buildId] === build.buildId &&
    newest.tags[TAG.channel] === CANDIDATE_CHANNEL &&
    newest.tags[TAG.protected] !== 'true';
  return { image: newest, deletable };
}

/**
 * Repair the channel after a failure during promotion and give its lease back: take the lease
 * again (the same holder extends it; another live holder refuses), retag the channel from its
 * pointer, release.
 */
const repairChannel = async (
  build: Build,
  ports: { images: ImageStore; pointer: ChannelPointer; ledger: PromotionLedger },
): Promise<NonNullable<CleanupResult['channel']>> => {
  const { channel, executionName } = build;
  const track = laneTrack(build);
  try {
    await ports.ledger.acquire(track, channel, executionName, PROMOTION_LEASE_TTL_SECONDS);
  } catch (error) {
    if (error instanceof PromotionLeaseHeld) return { retagged: 0, lease: 'held-by-other' };
    throw error;
  }
  try {
    const plan = await syncChannelTags(build, channel, ports);
    return { retagged: plan.changes.length, lease: 'released' };
  } finally {
    await ports.ledger.release(track, channel, executionName);
  }
};

/**
 * State `CleanupAfterFailure`: terminate every test instance tagged with the build id (plus the
 * one in `$.testInstance`), and deregister the build's candidate and its snapshots after any
 * failure before promotion (see {@link unpromotedCandidate}; `$.candidate` when present, else found
 * by build id). A failure is before promotion while neither `$.termination` nor `$.promotionLease`
 * is present: TerminateTestInstance is the last state before the promotion's, and the pointer only
 * moves under the lease, so from AcquirePromotionLease on the candidate is kept (a channel pointer
 * may already name it, with its tag still `candidate`). What cleanup cannot reach (builder instances, Packer's
 * temporary security group and key pair, an aborted execution's leftovers) is the sweeper's.
 * When the build took the promotion lease (`$.promotionLease`), the channel's tags are then put
 * back in agreement with its pointer and the lease is released (see {@link repairChannel}).
 * Without `$.build` (PrepareBuild failed) there is nothing to clean.
 * @returns `$.cleanup`. Errors from the backend propagate (the ASL's Catch continues to NotifyFailure).
 */
export async function cleanupAfterFailure(
  input: {
    build?: Build | undefined;
    candidate?: Candidate | undefined;
    testInstance?: { instanceId: string } | undefined;
    termination?: unknown;
    error?: CaughtError | undefined;
    promotionLease?: PromotionLease | undefined;
    /** CheckDistribution's verdict: present once the build reached its promotion. */
    distributionVerdict?: unknown;
  },
  ports: {
    launcher: Pick<MachineLauncher, 'listByBuildId' | 'terminate'>;
    images: ImageStore;
    pointer: ChannelPointer;
    ledger: PromotionLedger;
    /** The other regions of a distributed build (its copies are removed after an early failure). */
    regions?: Pick<RegionalPorts, 'images'> | undefined;
  },
): Promise<CleanupResult> {
  const { build, candidate, testInstance } = input;
  if (!build)
    return { terminatedInstanceIds: [], deregisteredImageId: null, snapshots: [], candidate: 'absent' };
  // With distribution, the states between TerminateTestInstance and the promotion's copy and
  // share: until CheckDistribution gave its verdict, nothing can name the candidate or a copy.
  const promoting =
    input.promotionLease !== undefined ||
    input.distributionVerdict !== undefined ||
    (input.termination !== undefined && build.distribution === undefined);
  const result = await cleanUpBuild(build, candidate, testInstance, promoting, ports);
  const copies = promoting || !ports.regions ? [] : await removeCopies(build, ports.regions);
  const withCopies = copies.length > 0 ? { ...result, copies } : result;
  return input.promotionLease ? { ...withCopies, channel: await repairChannel(build, ports) } : withCopies;
}

/**
 * Deregister the build's copies (and their snapshots) in every region but the stack's own: the
 * images tagged with its pipeline and build id there that are still `candidate` and not protected
 * (the copies carry the candidate's tags).
 */
const removeCopies = async (
  build: Build,
  regions: Pick<RegionalPorts, 'images'>,
): Promise<NonNullable<CleanupResult['copies']>> => {
  const removed: NonNullable<CleanupResult['copies']> = [];
  for (const { region } of (build.distribution?.regions ?? []).filter((target) => !target.home)) {
    const store = regions.images(region);
    const copies = await store.findImages({ [TAG.pipeline]: build.pipeline, [TAG.buildId]: build.buildId });
    for (const copy of copies) {
      if (copy.tags[TAG.channel] !== CANDIDATE_CHANNEL || copy.tags[TAG.protected] === 'true') continue;
      removed.push({ region, imageId: copy.imageId, snapshots: await store.deregisterImage(copy.imageId) });
    }
  }
  return removed;
};

const cleanUpBuild = async (
  build: Build,
  candidate: Candidate | undefined,
  testInstance: { instanceId: string } | undefined,
  /** The build reached its promotion: the candidate is kept. */
  promoting: boolean,
  ports: { launcher: Pick<MachineLauncher, 'listByBuildId' | 'terminate'>; images: ImageStore },
): Promise<CleanupResult> => {
  const tagged = await ports.launcher.listByBuildId(build.buildId);
  const instanceIds = [...new Set([...tagged, ...(testInstance ? [testInstance.instanceId] : [])])];
  const terminatedInstanceIds = await ports.launcher.terminate(instanceIds);
  const kept = (state: CleanupResult['candidate']): CleanupResult => ({
    terminatedInstanceIds,
    deregisteredImageId: null,
    snapshots: [],
    candidate: state,
  });
  if (promoting) return kept(candidate ? 'kept' : 'absent');
  const { image, deletable } = await unpromotedCandidate(build, candidate, ports.images);
  if (!image || !deletable) return kept(image ? 'kept' : 'absent');
  const snapshots = await ports.images.deregisterImage(image.imageId);
  return {
    terminatedInstanceIds,
    deregisteredImageId: image.imageId,
    snapshots,
    candidate: 'deregistered',
  };
};
