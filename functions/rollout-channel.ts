/**
 * Task `RolloutChannel` → `rolloutChannel()`: instance refreshes of the Auto Scaling groups tagged
 * with the promoted channel, in every region the build promoted. AWS_REGION is the stack's region.
 */
import { scalingGroups } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { RolloutChannelInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { rolloutChannel } from '#commons/steps/rollout-channel.js';

const ports = { groups: scalingGroups(), homeRegion: config.region };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleRolloutChannel(input: RolloutChannelInput) {
  const report = await rolloutChannel(input, ports);
  const count = (outcome: string) => report.groups.filter((group) => group.outcome === outcome).length;
  metrics.addMetric('RefreshesStarted', MetricUnit.Count, count('started'));
  metrics.addMetric('RefreshesFailed', MetricUnit.Count, count('failed') + report.regionErrors.length);
  if (report.outcome === 'partial')
    logger.warn('rollout partial', { groups: report.groups, regionErrors: report.regionErrors });
  else logger.info('rollout', { outcome: report.outcome, groups: report.groups });
  return report;
}

export const handler = lambdaHandler(RolloutChannelInput, handleRolloutChannel);
