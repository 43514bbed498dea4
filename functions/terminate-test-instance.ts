/** Task `TerminateTestInstance` → `terminateTestInstance()`. */
import { machineLauncher } from '#commons/aws/wiring.js';
import { TerminateTestInstanceInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { terminateTestInstance } from '#commons/steps/terminate-test-instance.js';

const ports = { launcher: machineLauncher() };

export const handler = lambdaHandler(TerminateTestInstanceInput, (input) =>
  terminateTestInstance(input, ports),
);
