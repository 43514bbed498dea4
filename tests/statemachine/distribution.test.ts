/**
 * The DistributeImage Map and CheckDistribution through the ASL (aws-local-stepfunctions): every
 * region copied, waited for and shared at once; a region failing at each step (copy, a copy that
 * fails, a copy never available within the bound, share) under each fail policy; the stack's own
 * region failing. CheckDistribution is the real step (the policy is pure); the other Tasks are
 * the harness's doubles.
 */
import { describe, expect, it } from 'vitest';
import {
  CANDIDATE_IMAGE_ID,
  DISTRIBUTION,
  happyPath,
  type Json,
  type JsonObject,
  MANUAL_INPUT,
  namedError,
  regionImageId,
  runPipeline,
  type TaskDouble,
} from './harness.js';

const HOME = 'us-east-1';
const FAILED_REGION = 'eu-west-1';
const OTHER_REGION = 'ap-southeast-2';
/** The ASL's copy wait bound (IsRegionCopyAvailable). */
const COPY_CHECKS = 120;

const FAILURE_TAIL = ['CleanupAfterFailure', 'NotifyFailure', 'IsIncidentConfigured', 'PipelineFailed'];
const REGION_DISTRIBUTED = [
  'CopyImageToRegion',
  'CheckRegionCopy',
  'IsRegionCopyAvailable',
  'WaitForRegionCopy',
  'CheckRegionCopy',
  'IsRegionCopyAvailable',
  'ShareRegionCopy',
];

/** PrepareBuild with the harness's distribution under `policy`. */
const withPolicy =
  (policy: 'promote-none' | 'promote-succeeded'): TaskDouble =>
  (input, call) => {
    const build = happyPath().PrepareBuild(input, call) as JsonObject;
    return { ...build, distribution: { ...(build.distribution as JsonObject), onRegionFailure: policy } };
  };

const regionOf = (input: JsonObject, key: 'target' | 'copy'): string =>
  String((input[key] as JsonObject).region);

/** A double that throws `error` in `region` and behaves as the happy path elsewhere. */
const failingIn =
  (
    task: 'CopyImageToRegion' | 'CheckRegionCopy' | 'ShareRegionCopy',
    region: string,
    error: Error,
  ): TaskDouble =>
  (input, call) => {
    if (regionOf(input, task === 'CopyImageToRegion' ? 'target' : 'copy') === region) throw error;
    return happyPath()[task](input, call);
  };

/** Every region's failure, one per step it can fail at. */
const REGION_FAILURES: Array<[string, Partial<Record<string, TaskDouble>>, string]> = [
  [
    'CopyImage refused',
    { CopyImageToRegion: failingIn('CopyImageToRegion', FAILED_REGION, namedError('UnauthorizedOperation')) },
    'UnauthorizedOperation',
  ],
  [
    'the copy failed',
    {
      CheckRegionCopy: failingIn(
        'CheckRegionCopy',
        FAILED_REGION,
        namedError('RegionCopyFailed', 'copy in eu-west-1: image state failed'),
      ),
    },
    'RegionCopyFailed',
  ],
  [
    'the copy never became available',
    {
      CheckRegionCopy: (input, call) => {
        const result = happyPath().CheckRegionCopy(input, call) as JsonObject;
        return regionOf(input, 'copy') === FAILED_REGION
          ? { ...result, available: false, state: 'pending' }
          : result;
      },
    },
    'RegionCopyFailed',
  ],
  [
    'sharing refused',
    {
      ShareRegionCopy: failingIn(
        'ShareRegionCopy',
        FAILED_REGION,
        namedError('InvalidParameter', 'snapshots encrypted with the AWS managed key cannot be shared'),
      ),
    },
    'InvalidParameter',
  ],
];

const promotedRegions = (run: Awaited<ReturnType<typeof runPipeline>>): Json =>
  (run.calls.PromoteImage?.[0]?.distributionVerdict as JsonObject | undefined)?.promote ?? null;

describe('distribution paths', () => {
  it('every region: copied (the home region keeps the candidate), waited for, shared, then all promoted', async () => {
    const run = await runPipeline();

    expect(run.status).toBe('SUCCEEDED');
    expect(Object.values(run.iterations)).toEqual([
      REGION_DISTRIBUTED,
      REGION_DISTRIBUTED,
      REGION_DISTRIBUTED,
    ]);
    expect(run.calls.CopyImageToRegion?.map((input) => (input.target as JsonObject).region).sort()).toEqual(
      [HOME, FAILED_REGION, OTHER_REGION].sort(),
    );
    expect(run.calls.CopyImageToRegion?.[0]).toMatchObject({
      candidate: { imageId: CANDIDATE_IMAGE_ID },
      build: { distribution: DISTRIBUTION },
    });
    expect(promotedRegions(run)).toEqual(
      (DISTRIBUTION.regions as JsonObject[]).map((target) => ({
        region: target.region,
        imageId: regionImageId(String(target.region)),
      })),
    );
    expect(run.output?.distributionVerdict).toMatchObject({ outcome: 'complete', failed: [] });
  });

  it('a transient Lambda error in one region is retried there, and the region is distributed', async () => {
    let thrown = false;
    const run = await runPipeline({
      ShareRegionCopy: (input, call) => {
        if (!thrown && regionOf(input, 'copy') === FAILED_REGION) {
          thrown = true;
          throw namedError('Lambda.ServiceException');
        }
        return happyPath().ShareRegionCopy(input, call);
      },
    });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output?.distributionVerdict).toMatchObject({ outcome: 'complete' });
  });

  describe.each(REGION_FAILURES)('a region fails: %s', (_name, doubles, error) => {
    it('promote-none (default): no region is promoted, the copies are cleaned up, the build fails', async () => {
      const run = await runPipeline({ ...doubles, PrepareBuild: withPolicy('promote-none') }, MANUAL_INPUT);

      expect(run.status).toBe('FAILED');
      expect(run.error?.Error).toBe('DistributionFailed');
      expect(String(run.error?.Cause)).toContain(`${FAILED_REGION} (${error}`);
      expect(run.visited).toContain('CheckDistribution');
      expect(run.visited).not.toContain('AcquirePromotionLease');
      expect(run.calls.PromoteImage).toBeUndefined();
      expect(run.visited.slice(-FAILURE_TAIL.length)).toEqual(FAILURE_TAIL);
      // CleanupAfterFailure sees every region's outcome and no verdict: before promotion.
      const cleanup = run.calls.CleanupAfterFailure?.[0];
      expect(cleanup?.distributionVerdict).toBeUndefined();
      expect(
        ((cleanup?.regionOutcomes ?? []) as JsonObject[]).map((outcome) => [outcome.region, outcome.outcome]),
      ).toEqual([
        [HOME, 'distributed'],
        [FAILED_REGION, 'failed'],
        [OTHER_REGION, 'distributed'],
      ]);
    });

    it('promote-succeeded: the other regions are promoted, the failed one is reported and left alone', async () => {
      const run = await runPipeline(
        { ...doubles, PrepareBuild: withPolicy('promote-succeeded') },
        MANUAL_INPUT,
      );

      expect(run.status).toBe('SUCCEEDED');
      expect(promotedRegions(run)).toEqual([
        { region: HOME, imageId: CANDIDATE_IMAGE_ID },
        { region: OTHER_REGION, imageId: regionImageId(OTHER_REGION) },
      ]);
      const verdict = run.output?.distributionVerdict as JsonObject;
      expect(verdict.outcome).toBe('partial');
      expect(verdict.failed).toEqual([{ region: FAILED_REGION, error: expect.stringContaining(error) }]);
      expect(run.visited).not.toContain('CleanupAfterFailure');
    });
  });

  it('a copy never available stops after the bound: one look per attempt, then RegionCopyTimedOut', async () => {
    const [, neverAvailable] = REGION_FAILURES[2] as (typeof REGION_FAILURES)[number];
    const run = await runPipeline({ ...neverAvailable, PrepareBuild: withPolicy('promote-succeeded') });
    const failedIndex = (DISTRIBUTION.regions as JsonObject[]).findIndex((t) => t.region === FAILED_REGION);
    const visits = run.iterations[failedIndex] ?? [];

    expect(visits.filter((state) => state === 'CheckRegionCopy')).toHaveLength(COPY_CHECKS);
    expect(visits.slice(-2)).toEqual(['RegionCopyTimedOut', 'RegionFailed']);
  });

  it.each(['promote-none', 'promote-succeeded'] as const)(
    'the stack region fails (%s): nothing is promoted anywhere',
    async (policy) => {
      const run = await runPipeline({
        PrepareBuild: withPolicy(policy),
        ShareRegionCopy: failingIn('ShareRegionCopy', HOME, namedError('UnauthorizedOperation')),
      });

      expect(run.status).toBe('FAILED');
      expect(run.error?.Error).toBe('DistributionFailed');
      expect(String(run.error?.Cause)).toContain("the stack's own region failed");
      expect(run.calls.PromoteImage).toBeUndefined();
    },
  );
});
