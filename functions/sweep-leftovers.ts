/**
 * The sweeper → `sweepLeftovers()`. Runs on its schedule (`sweeperSchedule`), on every execution
 * of this stage's state machine that ends FAILED, ABORTED or TIMED_OUT, and by hand
 * (`{ "dryRun": true }` to see what it would remove). Every trigger sweeps the whole stage: an
 * execution's own leftovers younger than the grace period wait for a later run.
 * Env: STAGE, STATE_MACHINE_ARN, PIPELINES, SWEEPER_GRACE_MINUTES (60), SWEEPER_DRY_RUN (false),
 * SLACK_WEBHOOK_PARAMETER.
 *
 * Metrics (namespace `POWERTOOLS_METRICS_NAMESPACE`): `LeftoversFound` and `LeftoversRemoved`
 * (`LeftoversPlanned` in a dry run) per `Kind` dimension, `LeftoversFailed`, `LeftoversDeferred`.
 */

import type { Context } from 'aws-lambda';
import { executionStatus, imageStore, leftoverStore, slackNotifier } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { LEFTOVER_KINDS } from '#commons/core/sweep.js';
import { InvalidInput } from '#commons/errors.js';
import { SweepLeftoversInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { sweepLeftovers } from '#commons/steps/sweep-leftovers.js';

const ports = {
  leftovers: leftoverStore(),
  executions: executionStatus(),
  images: imageStore(),
  notifier: slackNotifier(),
};
const options = {
  scope: {
    stage: config.stage,
    stateMachineArn: config.stateMachineArn,
    pipelines: config.pipelines.map((p) => p.pipeline),
  },
  graceMinutes: config.sweeperGraceMinutes,
  dryRun: config.sweeperDryRun,
};

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleSweepLeftovers(input: SweepLeftoversInput, context: Context) {
  if ('source' in input && input.source === 'aws.states') {
    if (input.detail.stateMachineArn !== options.scope.stateMachineArn) {
      throw new InvalidInput(
        `the execution ${input.detail.executionArn} is not of this stage's state machine ${options.scope.stateMachineArn}`,
      );
    }
    logger.info('execution stopped', {
      executionArn: input.detail.executionArn,
      status: input.detail.status,
    });
  }
  const report = await sweepLeftovers('source' in input ? {} : input, ports, {
    ...options,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  for (const kind of LEFTOVER_KINDS) {
    const single = metrics.singleMetric();
    single.addDimension('Kind', kind);
    single.addMetric('LeftoversFound', MetricUnit.Count, report.found[kind]);
    const kindMetric = metrics.singleMetric();
    kindMetric.addDimension('Kind', kind);
    kindMetric.addMetric(
      report.dryRun ? 'LeftoversPlanned' : 'LeftoversRemoved',
      MetricUnit.Count,
      report.removed[kind],
    );
  }
  metrics.addMetric('LeftoversFailed', MetricUnit.Count, report.failed);
  metrics.addMetric('LeftoversDeferred', MetricUnit.Count, report.deferred);
  for (const outcome of report.outcomes.filter((o) => o.outcome === 'failed' || o.outcome === 'deferred')) {
    logger.warn('leftover not removed', { ...outcome });
  }
  logger.info('sweep done', {
    dryRun: report.dryRun,
    found: report.found,
    removed: report.removed,
    notification: report.notification,
  });
  return report;
}

export const handler = lambdaHandler(SweepLeftoversInput, handleSweepLeftovers);
