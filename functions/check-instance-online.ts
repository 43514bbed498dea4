/** Task `CheckInstanceOnline` → `checkInstanceOnline()`. Env: ONLINE_MAX_ATTEMPTS. */
import { instanceReadiness } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { CheckInstanceOnlineInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { checkInstanceOnline } from '#commons/steps/check-instance-online.js';

const ports = { launcher: instanceReadiness() };
const options = { maxAttempts: config.onlineMaxAttempts };

export const handler = lambdaHandler(CheckInstanceOnlineInput, (input) =>
  checkInstanceOnline(input, ports, options),
);
