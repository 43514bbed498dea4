/**
 * Manual rollback: `{ "pipeline": "web", "channel": "stable", "imageId": "ami-…" (optional) }` points
 * the channel back to its previous image → `rollbackChannel()`, under the channel's promotion lease
 * (held as `rollback:<request id>`), then publishes `Image Rolled Back`. Env: CHANNEL_PARAMETER_PREFIX, STAGE,
 * PROMOTION_LEDGER_TABLE, EVENT_BUS_NAME, DISTRIBUTION and AWS_REGION (a distributed pipeline's
 * regions move together).
 */

import type { Context } from 'aws-lambda';
import {
  channelPointer,
  eventPublisher,
  imageStore,
  promotionLedger,
  regionalPorts,
} from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { resolveDistribution } from '#commons/core/distribution.js';
import { InvalidDistribution } from '#commons/errors.js';
import { RollbackChannelInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { rollbackChannel } from '#commons/steps/rollback-channel.js';

const ports = {
  images: imageStore(),
  pointer: channelPointer(),
  ledger: promotionLedger(),
  events: eventPublisher(),
};
const regions = regionalPorts();

/** The pipeline's other regions (DISTRIBUTION): a rollback moves them with the stack's region. */
const otherRegions = (pipeline: string): string[] =>
  resolveDistribution(
    config.distributionSettings[pipeline],
    config.region,
    (problems) => new InvalidDistribution(pipeline, problems),
  )
    .regions.filter((target) => !target.home)
    .map((target) => target.region);

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleRollbackChannel(input: RollbackChannelInput, context: Context) {
  const result = await rollbackChannel(
    input,
    { ...ports, regions: { names: otherRegions(input.pipeline), ports: regions } },
    { holder: `rollback:${context.awsRequestId}` },
  );
  metrics.addMetric('ChannelRolledBack', MetricUnit.Count, 1);
  logger.info('channel rolled back', { ...result });
  return result;
}

export const handler = lambdaHandler(RollbackChannelInput, handleRollbackChannel);
