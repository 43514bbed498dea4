import { PROMOTION_LEASE_TTL_SECONDS } from '../core/promotion-lease.js';
import { isPromotedChannelTag, TAG } from '../core/tags.js';
import { PROBE_FAILURE_ERRORS, PromotionLeaseHeld } from '../errors.js';
import type {
  ChannelPointer,
  ImageStore,
  MachineLauncher,
  PromotionLease,
  PromotionLedger,
  SnapshotOutcome,
} from '../ports.js';
import type { Build, Candidate, CaughtError } from '../schemas.js';
import { syncChannelTags } from './promote-image.js';

export interface CleanupResult {
  terminatedInstanceIds: string[];
  /** The candidate deregistered because its probe failed, or null. */
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
  const { pipeline, channel, executionName } = build;
  try {
    await ports.ledger.acquire(pipeline, channel, executionName, PROMOTION_LEASE_TTL_SECONDS);
  } catch (error) {
    if (error instanceof PromotionLeaseHeld) return { retagged: 0, lease: 'held-by-other' };
    throw error;
  }
  try {
    const plan = await syncChannelTags(pipeline, channel, ports);
    return { retagged: plan.changes.length, lease: 'released' };
  } finally {
    await ports.ledger.release(pipeline, channel, executionName);
  }
};

/**
 * State `CleanupAfterFailure`: terminate every test instance tagged with the build id (plus the
 * one in `$.testInstance`), and deregister the candidate when the probe failed (`ProbeFailed` or
 * `ProbeTimedOut` in `$.error`) — unless it is protected, promoted or not the pipeline's.
 * When the build took the promotion lease (`$.promotionLease`), the channel's tags are first put
 * back in agreement with its pointer and the lease is released (see {@link repairChannel}).
 * Without `$.build` (PrepareBuild failed) there is nothing to clean.
 * @returns `$.cleanup`. Errors from the backend propagate (the ASL's Catch continues to NotifyFailure).
 */
export const cleanupAfterFailure = async (
  input: {
    build?: Build | undefined;
    candidate?: Candidate | undefined;
    testInstance?: { instanceId: string } | undefined;
    error?: CaughtError | undefined;
    promotionLease?: PromotionLease | undefined;
  },
  ports: {
    launcher: Pick<MachineLauncher, 'listByBuildId' | 'terminate'>;
    images: ImageStore;
    pointer: ChannelPointer;
    ledger: PromotionLedger;
  },
): Promise<CleanupResult> => {
  const { build, candidate, testInstance, error } = input;
  if (!build)
    return { terminatedInstanceIds: [], deregisteredImageId: null, snapshots: [], candidate: 'absent' };
  const result = await cleanUpBuild(build, candidate, testInstance, error, ports);
  return input.promotionLease ? { ...result, channel: await repairChannel(build, ports) } : result;
};

const cleanUpBuild = async (
  build: Build,
  candidate: Candidate | undefined,
  testInstance: { instanceId: string } | undefined,
  error: CaughtError | undefined,
  ports: { launcher: Pick<MachineLauncher, 'listByBuildId' | 'terminate'>; images: ImageStore },
): Promise<CleanupResult> => {
  const tagged = await ports.launcher.listByBuildId(build.buildId);
  const instanceIds = [...new Set([...tagged, ...(testInstance ? [testInstance.instanceId] : [])])];
  const terminatedInstanceIds = await ports.launcher.terminate(instanceIds);
  if (!candidate)
    return { terminatedInstanceIds, deregisteredImageId: null, snapshots: [], candidate: 'absent' };
  if (!error || !PROBE_FAILURE_ERRORS.includes(error.Error)) {
    return { terminatedInstanceIds, deregisteredImageId: null, snapshots: [], candidate: 'kept' };
  }
  const record = await ports.images.getImage(candidate.imageId);
  const deletable =
    record !== undefined &&
    record.tags[TAG.pipeline] === build.pipeline &&
    record.tags[TAG.protected] !== 'true' &&
    !isPromotedChannelTag(record.tags[TAG.channel]);
  if (!deletable) {
    return {
      terminatedInstanceIds,
      deregisteredImageId: null,
      snapshots: [],
      candidate: record ? 'kept' : 'absent',
    };
  }
  const snapshots = await ports.images.deregisterImage(candidate.imageId);
  return {
    terminatedInstanceIds,
    deregisteredImageId: candidate.imageId,
    snapshots,
    candidate: 'deregistered',
  };
};
