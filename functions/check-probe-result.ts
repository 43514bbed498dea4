/** Task `CheckProbeResult` → `checkProbeResult()`. Env: PROBE_COMMAND, PROBE_MAX_ATTEMPTS. */
import { commandRunner } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { CheckProbeResultInput } from '#commons/handler-inputs.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { checkProbeResult } from '#commons/steps/check-probe-result.js';

const ports = { runner: commandRunner() };
const options = { maxAttempts: config.probeMaxAttempts };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleCheckProbeResult(input: CheckProbeResultInput) {
  try {
    const result = await checkProbeResult(input, ports, options);
    if (result.passed) metrics.addMetric('ProbePassed', MetricUnit.Count, 1);
    return result;
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ProbeFailed' || name === 'ProbeTimedOut') {
      metrics.addMetric(name, MetricUnit.Count, 1);
      logger.warn('probe did not pass', { buildId: input.build.buildId, error: name });
    }
    throw error;
  }
}

export const handler = lambdaHandler(CheckProbeResultInput, handleCheckProbeResult);
