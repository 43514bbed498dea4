/**
 * Task `OpenIncident` → `openIncident()`: an Incident Manager incident or an OpsCenter OpsItem, as
 * `build.alerting` says, one per stage, pipeline and failing state while it is open.
 */

import type { Context } from 'aws-lambda';
import { incidentReporter } from '#commons/aws/wiring.js';
import { OpenIncidentInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { openIncident } from '#commons/steps/open-incident.js';

const reporters = new Map<string, ReturnType<typeof incidentReporter>>();

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleOpenIncident(input: OpenIncidentInput, context: Context) {
  const { alerting } = input.build;
  // arn:<partition>:lambda:<region>:<account>:function:… → arn:<partition>:ssm:<region>:<account>
  const [, partition, , region, account] = context.invokedFunctionArn.split(':');
  const incidents =
    reporters.get(alerting) ?? incidentReporter(alerting, `arn:${partition}:ssm:${region}:${account}`);
  reporters.set(alerting, incidents);
  const incident = await openIncident(input, { incidents });
  logger.info('incident opened', { buildId: input.build.buildId, ...incident });
  return incident;
}

export const handler = lambdaHandler(OpenIncidentInput, handleOpenIncident);
