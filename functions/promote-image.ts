/**
 * Task `PromoteImage` → `promoteImageInRegions()`: every region the distribution verdict promotes.
 * Env: CHANNEL_PARAMETER_PREFIX, STAGE, EVENT_BUS_NAME, AWS_REGION.
 */
import { regionalPorts } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { PromoteImageInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { promoteImageInRegions } from '#commons/steps/promote-image.js';

const ports = { ...regionalPorts(), homeRegion: config.region };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handlePromoteImage(input: PromoteImageInput) {
  const promotion = await promoteImageInRegions(input, ports);
  if (promotion.outcome === 'superseded') {
    metrics.addMetric('PromotionSuperseded', MetricUnit.Count, 1);
    logger.info('build superseded', { ...promotion });
  } else {
    metrics.addMetric('ImagePromoted', MetricUnit.Count, 1);
    logger.info('image promoted', { ...promotion });
  }
  return promotion;
}

export const handler = lambdaHandler(PromoteImageInput, handlePromoteImage);
