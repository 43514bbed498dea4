/**
 * Manual rollback: `{ "pipeline": "web", "channel": "stable", "imageId": "ami-…" (optional) }` points
 * the channel back to its previous image → `rollbackChannel()`. Env: CHANNEL_PARAMETER_PREFIX.
 */
import { channelPointer, imageStore } from '#commons/aws/wiring.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { RollbackChannelInput } from '#commons/schemas.js';
import { rollbackChannel } from '#commons/steps/rollback-channel.js';

const ports = { images: imageStore(), pointer: channelPointer() };

export const handler = lambdaHandler(RollbackChannelInput, async (input) => {
  const result = await rollbackChannel(input, ports);
  metrics.addMetric('ChannelRolledBack', MetricUnit.Count, 1);
  logger.info('channel rolled back', { ...result });
  return result;
});
