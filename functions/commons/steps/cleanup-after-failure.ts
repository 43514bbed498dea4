import { isPromotedChannelTag, TAG } from '../core/tags.js';
import { PROBE_FAILURE_ERRORS } from '../errors.js';
import type { ImageStore, MachineLauncher, SnapshotOutcome } from '../ports.js';
import type { Build, Candidate, CaughtError } from '../schemas.js';

export interface CleanupResult {
  terminatedInstanceIds: string[];
  /** The candidate deregistered because its probe failed, or null. */
  deregisteredImageId: string | null;
  snapshots: SnapshotOutcome[];
  /** Why the candidate was or was not deregistered. */
  candidate: 'deregistered' | 'kept' | 'absent';
}

/**
 * State `CleanupAfterFailure`: terminate every test instance tagged with the build id (plus the
 * one in `$.testInstance`), and deregister the candidate when the probe failed (`ProbeFailed` or
 * `ProbeTimedOut` in `$.error`) — unless it is protected, promoted or not the pipeline's.
 * Without `$.build` (PrepareBuild failed) there is nothing to clean.
 * @returns `$.cleanup`. Errors from the backend propagate (the ASL's Catch continues to NotifyFailure).
 */
export const cleanupAfterFailure = async (
  input: {
    build?: Build | undefined;
    candidate?: Candidate | undefined;
    testInstance?: { instanceId: string } | undefined;
    error?: CaughtError | undefined;
  },
  ports: { launcher: Pick<MachineLauncher, 'listByBuildId' | 'terminate'>; images: ImageStore },
): Promise<CleanupResult> => {
  const { build, candidate, testInstance, error } = input;
  if (!build)
    return { terminatedInstanceIds: [], deregisteredImageId: null, snapshots: [], candidate: 'absent' };
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
