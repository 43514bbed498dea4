/** Task `ProbeTestInstance` → `probeTestInstance()`. Env: PROBE_COMMAND. */
import { commandRunner } from '#commons/aws/wiring.js';
import { ProbeTestInstanceInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { probeTestInstance } from '#commons/steps/probe-test-instance.js';

const ports = { runner: commandRunner() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleProbeTestInstance(input: ProbeTestInstanceInput) {
  return probeTestInstance(input, ports);
}

export const handler = lambdaHandler(ProbeTestInstanceInput, handleProbeTestInstance);
