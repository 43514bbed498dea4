/** Task `ProbeTestInstance` → `probeTestInstance()`. Env: PROBE_COMMAND. */
import { commandRunner } from '#commons/aws/wiring.js';
import { ProbeTestInstanceInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { probeTestInstance } from '#commons/steps/probe-test-instance.js';

const ports = { runner: commandRunner() };

export const handler = lambdaHandler(ProbeTestInstanceInput, (input) => probeTestInstance(input, ports));
