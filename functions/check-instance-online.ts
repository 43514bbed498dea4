/** Task `CheckInstanceOnline` → `checkInstanceOnline()`. Env: ONLINE_MAX_ATTEMPTS. */
import { instanceReadiness } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { CheckInstanceOnlineInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { checkInstanceOnline } from '#commons/steps/check-instance-online.js';

const ports = { launcher: instanceReadiness() };
const options = { maxAttempts: config.onlineMaxAttempts };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleCheckInstanceOnline(input: CheckInstanceOnlineInput) {
  return checkInstanceOnline(input, ports, options);
}

export const handler = lambdaHandler(CheckInstanceOnlineInput, handleCheckInstanceOnline);
