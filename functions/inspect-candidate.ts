/**
 * Task `InspectCandidate` → `inspectCandidate()`. Env: SBOM_BUCKET, VULNERABILITY_THRESHOLD,
 * CHANNEL_PARAMETER_PREFIX, STAGE.
 */
import { channelPointer, imageStore, sbomStore, vulnerabilityScanner } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { InspectCandidateInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { inspectCandidate } from '#commons/steps/inspect-candidate.js';

const ports = {
  images: imageStore(),
  pointer: channelPointer(),
  sboms: sbomStore(),
  scanner: vulnerabilityScanner(),
};
const options = { threshold: config.vulnerabilityThreshold };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleInspectCandidate(input: InspectCandidateInput) {
  const inspection = await inspectCandidate(input, ports, options);
  metrics.addMetric(
    inspection.verdict.outcome === 'block' ? 'VulnerabilityGateBlocked' : 'VulnerabilityGatePassed',
    MetricUnit.Count,
    1,
  );
  logger.info('candidate inspected', {
    buildId: input.build.buildId,
    verdict: inspection.verdict.summary,
    diff: inspection.diff.available ? inspection.diff.counts : inspection.diff.reason,
  });
  return inspection;
}

export const handler = lambdaHandler(InspectCandidateInput, handleInspectCandidate);
