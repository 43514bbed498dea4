/**
 * Task `ApplyRetention` → `applyRetention()`.
 * Env: CHANNEL_PARAMETER_PREFIX, RETENTION_MAX_AGE_DAYS (30), RETENTION_KEEP_LATEST (3), RETENTION_DRY_RUN (false).
 */
import { channelPointer, imageStore } from '#commons/aws/ports.js';
import { config } from '#commons/config.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { ApplyRetentionInput } from '#commons/schemas.js';
import { applyRetention } from '#commons/steps/apply-retention.js';

const ports = { images: imageStore(), pointer: channelPointer() };
const options = {
  maxAgeDays: config.retentionMaxAgeDays,
  keepLatest: config.retentionKeepLatest,
  dryRun: config.retentionDryRun,
};

export const handler = lambdaHandler(ApplyRetentionInput, async (input) => {
  const retention = await applyRetention(input, ports, options);
  const count = (outcome: string) => retention.outcomes.filter((entry) => entry.outcome === outcome).length;
  metrics.addMetric('ImagesDeregistered', MetricUnit.Count, count('deregistered'));
  metrics.addMetric('RetentionFailures', MetricUnit.Count, count('failed'));
  for (const entry of retention.outcomes.filter((item) => item.outcome === 'failed')) {
    logger.error('deregistration failed', { imageId: entry.imageId, error: entry.error });
  }
  return retention;
});
