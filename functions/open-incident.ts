/** Task `OpenIncident` → `openIncident()` (SSM Incident Manager StartIncident, client token = execution name). */
import { incidentReporter } from '#commons/aws/wiring.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { OpenIncidentInput } from '#commons/schemas.js';
import { openIncident } from '#commons/steps/open-incident.js';

const ports = { incidents: incidentReporter() };

export const handler = lambdaHandler(OpenIncidentInput, async (input) => {
  const incident = await openIncident(input, ports);
  logger.info('incident opened', { buildId: input.build.buildId, ...incident });
  return incident;
});
