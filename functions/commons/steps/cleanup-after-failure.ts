import { CANDIDATE_CHANNEL, TAG } from '../core/tags.js';
import type { ImageRecord, ImageStore, MachineLauncher, SnapshotOutcome } from '../ports.js';
import type { Build, Candidate, CaughtError } from '../schemas.js';

export interface CleanupResult {
  terminatedInstanceIds: string[];
  /** The candidate deregistered because the build failed before promotion, or null. */
  deregisteredImageId: string | null;
  snapshots: SnapshotOutcome[];
  /** Why the candidate was or was not deregistered. */
  candidate: 'deregistered' | 'kept' | 'absent';
}

/**
 * The build's unpromoted candidate, or undefined: `$.candidate` when FindCandidateImage ran, else
 * the newest available image tagged with the build id (a bake that registered its AMI and then
 * failed, timed out or was followed by a failing FindCandidateImage), as FindCandidateImage picks.
 * The image is `deletable` only when it is this build's (`factory:build-id`, so this stage's
 * execution's) and pipeline's, still `factory:channel=candidate` and not `factory:protected=true`.
 * @returns the image found (undefined: none) and whether it may be deregistered.
 */
export const unpromotedCandidate = async (
  build: Build,
  candidate: Candidate | undefined,
  images: Pick<ImageStore, 'getImage' | 'findImages'>,
): Promise<{ image: ImageRecord | undefined; deletable: boolean }> => {
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
};

/**
 * State `CleanupAfterFailure`: terminate every test instance tagged with the build id (plus the
 * one in `$.testInstance`), and deregister the build's candidate and its snapshots after any
 * failure before promotion (see {@link unpromotedCandidate}; `$.candidate` when present, else found
 * by build id). A failure is before promotion while `$.termination` is absent: TerminateTestInstance
 * is the last state before the promotion's, so from PromoteImage on the candidate is kept (a
 * channel pointer may already name it). What cleanup cannot reach (builder instances, Packer's
 * temporary security group and key pair, an aborted execution's leftovers) is the sweeper's.
 * Without `$.build` (PrepareBuild failed) there is nothing to clean.
 * @returns `$.cleanup`. Errors from the backend propagate (the ASL's Catch continues to NotifyFailure).
 */
export const cleanupAfterFailure = async (
  input: {
    build?: Build | undefined;
    candidate?: Candidate | undefined;
    testInstance?: { instanceId: string } | undefined;
    termination?: unknown;
    error?: CaughtError | undefined;
  },
  ports: { launcher: Pick<MachineLauncher, 'listByBuildId' | 'terminate'>; images: ImageStore },
): Promise<CleanupResult> => {
  const { build, candidate, testInstance } = input;
  if (!build)
    return { terminatedInstanceIds: [], deregisteredImageId: null, snapshots: [], candidate: 'absent' };
  const tagged = await ports.launcher.listByBuildId(build.buildId);
  const instanceIds = [...new Set([...tagged, ...(testInstance ? [testInstance.instanceId] : [])])];
  const terminatedInstanceIds = await ports.launcher.terminate(instanceIds);
  const kept = (state: CleanupResult['candidate']): CleanupResult => ({
    terminatedInstanceIds,
    deregisteredImageId: null,
    snapshots: [],
    candidate: state,
  });
  if (input.termination !== undefined) return kept(candidate ? 'kept' : 'absent');
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
