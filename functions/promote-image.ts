/** Task `PromoteImage` → `promoteImage()`. Env: CHANNEL_PARAMETER_PREFIX, STAGE, EVENT_BUS_NAME. */
import { channelPointer, eventPublisher, imageStore } from '#commons/aws/wiring.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { PromoteImageInput } from '#commons/schemas.js';
import { promoteImage } from '#commons/steps/promote-image.js';

const ports = { images: imageStore(), pointer: channelPointer(), events: eventPublisher() };

export const handler = lambdaHandler(PromoteImageInput, async (input) => {
  const promotion = await promoteImage(input, ports);
  if (promotion.outcome === 'superseded') {
    metrics.addMetric('PromotionSuperseded', MetricUnit.Count, 1);
    logger.info('build superseded', { ...promotion });
  } else {
    metrics.addMetric('ImagePromoted', MetricUnit.Count, 1);
    logger.info('image promoted', { ...promotion });
  }
  return promotion;
});
