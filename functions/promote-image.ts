/** Task `PromoteImage` → `promoteImage()`. Env: CHANNEL_PARAMETER_PREFIX, STAGE, EVENT_BUS_NAME. */
import { channelPointer, eventPublisher, imageStore } from '#commons/aws/wiring.js';
import { PromoteImageInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { promoteImage } from '#commons/steps/promote-image.js';

const ports = { images: imageStore(), pointer: channelPointer(), events: eventPublisher() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handlePromoteImage(input: PromoteImageInput) {
  const promotion = await promoteImage(input, ports);
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
