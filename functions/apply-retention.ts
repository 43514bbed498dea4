/**
 * Task `ApplyRetention` → `applyRetentionInRegions()`: the stack's region, then every other region
 * of the build's distribution. AWS_REGION is the stack's region.
 * Env: STAGE (only images tagged `factory:stage=<STAGE>` are in scope), CHANNEL_PARAMETER_PREFIX, RETENTION_MAX_AGE_DAYS (30), RETENTION_KEEP_LATEST (3),
 * RETENTION_DRY_RUN (false), RETENTION_RECENT_LAUNCH_DAYS (7), RETENTION_CONCURRENCY (8).
 *
 * Throttling after the SDK's own retries is recognised with the SDK's classification
 * (`isThrottlingError`, which lists EC2's `RequestLimitExceeded`), and the work stops while the
 * Lambda still has `reserveMs` left, so a backlog never times the function out: what is left is
 * reported `deferred` and the next run continues.
 */
import { isThrottlingError } from '@smithy/core/retry';
import type { Context } from 'aws-lambda';
import { regionalChannelPointers, regionalImageStores } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { ApplyRetentionInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { applyRetentionInRegions } from '#commons/steps/apply-retention.js';

const ports = {
  images: regionalImageStores(),
  pointer: regionalChannelPointers(),
  homeRegion: config.region,
};
const options = {
  stage: config.stage,
  maxAgeDays: config.retentionMaxAgeDays,
  keepLatest: config.retentionKeepLatest,
  dryRun: config.retentionDryRun,
  recentLaunchDays: config.retentionRecentLaunchDays,
  concurrency: config.retentionConcurrency,
  isThrottled: (error: unknown) =>
    error instanceof Error && isThrottlingError(error as Parameters<typeof isThrottlingError>[0]),
};

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleApplyRetention(input: ApplyRetentionInput, context: Context) {
  const retention = await applyRetentionInRegions(input, ports, {
    ...options,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  const count = (outcome: string) => retention.counts?.[outcome] ?? 0;
  metrics.addMetric('ImagesDeregistered', MetricUnit.Count, count('deregistered'));
  metrics.addMetric('RetentionFailures', MetricUnit.Count, count('failed'));
  metrics.addMetric('RetentionDeferred', MetricUnit.Count, count('deferred'));
  for (const entry of retention.outcomes.filter((item) => item.outcome === 'failed')) {
    logger.error('deregistration failed', { imageId: entry.imageId, error: entry.error });
  }
  if (retention.outcome === 'partial') logger.warn('retention partial', { warnings: retention.warnings });
  return retention;
}

export const handler = lambdaHandler(ApplyRetentionInput, handleApplyRetention);
