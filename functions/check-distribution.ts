/** Task `CheckDistribution` → `checkDistribution()`: the fail policy over every region's outcome. */
import { CheckDistributionInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { checkDistribution } from '#commons/steps/distribute-image.js';

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleCheckDistribution(input: CheckDistributionInput) {
  const failed = input.regionOutcomes.filter((outcome) => outcome.outcome === 'failed');
  metrics.addMetric('RegionsFailed', MetricUnit.Count, failed.length);
  if (failed.length > 0) logger.warn('regions failed', { buildId: input.build.buildId, failed });
  return checkDistribution(input);
}

export const handler = lambdaHandler(CheckDistributionInput, handleCheckDistribution);
