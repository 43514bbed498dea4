/**
 * Trigger: poll the public SSM parameters of the configured base images and start a build when a
 * pipeline's source AMI changed. Invoked by an EventBridge schedule and, optionally, by the Amazon
 * Linux AMI-update SNS topic (its message is not parsed: any notification triggers a re-check).
 * AWS emits no change events for its public parameters, hence the watcher (see `aws/triggers.ts`).
 * A layered pipeline (PIPELINES `pipeline:<parent>/<channel>`) is watched through its parent channel's
 * pointer instead: a promotion of the parent starts a build of the child on the next run.
 * Env: PIPELINES, STATE_MACHINE_ARN, LAST_SEEN_PARAMETER_PREFIX, DEFAULT_CHANNEL, CHANNEL_PARAMETER_PREFIX.
 */

import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { SnsSchema } from '@aws-lambda-powertools/parser/schemas/sns';
import * as z from 'zod';
import { startBuild } from '#commons/aws/start-execution.js';
import { LastSeenStore, watchBaseImages } from '#commons/aws/triggers.js';
import { channelPointer, sourceResolver } from '#commons/aws/wiring.js';
import { sfn } from '#commons/clients/sfn.js';
import { ssm } from '#commons/clients/ssm.js';
import { config } from '#commons/config.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';

const WatchEvent = z.union([EventBridgeSchema, SnsSchema], {
  error: 'expected an EventBridge scheduled event or an SNS notification',
});

const pipelines = config.pipelines;
const stateMachineArn = config.stateMachineArn;
const deps = {
  sources: sourceResolver(),
  pointer: channelPointer(),
  lastSeen: new LastSeenStore(ssm, config.lastSeenParameterPrefix),
  start: (input: Parameters<typeof startBuild>[2], sourceImageId: string) =>
    startBuild(sfn, stateMachineArn, input, sourceImageId),
};

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleWatchBaseImages(event: z.infer<typeof WatchEvent>) {
  logger.info('checking base images', {
    trigger: 'Records' in event ? 'sns' : 'schedule',
    pipelines: pipelines.length,
  });
  const results = await watchBaseImages(pipelines, deps);
  for (const result of results.filter((entry) => entry.changed)) {
    metrics.addMetric(result.started ? 'BuildsStarted' : 'BuildsAlreadyStarted', MetricUnit.Count, 1);
    logger.info('source image changed', { ...result });
  }
  return { results };
}

export const handler = lambdaHandler(WatchEvent, handleWatchBaseImages);
