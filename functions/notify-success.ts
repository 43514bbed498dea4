/** Task `NotifySuccess` → `notifySuccess()`. Env: SLACK_WEBHOOK_PARAMETER. */
import { slackNotifier } from '#commons/aws/wiring.js';
import { NotifySuccessInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { notifySuccess } from '#commons/steps/notify-success.js';

const ports = { notifier: slackNotifier() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleNotifySuccess(input: NotifySuccessInput) {
  return notifySuccess(input, ports);
}

export const handler = lambdaHandler(NotifySuccessInput, handleNotifySuccess);
