/** Task `TerminateTestInstance` → `terminateTestInstance()`. */
import { machineLauncher } from '#commons/aws/wiring.js';
import { TerminateTestInstanceInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { terminateTestInstance } from '#commons/steps/terminate-test-instance.js';

const ports = { launcher: machineLauncher() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleTerminateTestInstance(input: TerminateTestInstanceInput) {
  return terminateTestInstance(input, ports);
}

export const handler = lambdaHandler(TerminateTestInstanceInput, handleTerminateTestInstance);
