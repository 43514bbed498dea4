/** Task `PrepareBuild` → `prepareBuild()`. Env: PROBE_TIMEOUT_SECONDS, INCIDENT_RESPONSE_PLAN_ARN (optional). */
import { sourceResolver } from '#commons/aws/ports.js';
import { config } from '#commons/config.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { PrepareBuildInput } from '#commons/schemas.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';

const ports = { sources: sourceResolver() };
const options = {
  probeTimeoutSeconds: config.probeTimeoutSeconds,
  incidentResponsePlanArn: config.incidentResponsePlanArn,
};

export const handler = lambdaHandler(PrepareBuildInput, async (input) => {
  const build = await prepareBuild(input, ports, options);
  logger.info('build prepared', { buildId: build.buildId, sourceImageId: build.sourceImageId });
  return build;
});
