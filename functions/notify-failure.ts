/** Task `NotifyFailure` → `notifyFailure()`. Env: SLACK_WEBHOOK_PARAMETER, STAGE, EVENT_BUS_NAME. */
import { eventPublisher, slackNotifier } from '#commons/aws/wiring.js';
import { NotifyFailureInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';

const ports = { notifier: slackNotifier(), events: eventPublisher() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleNotifyFailure(input: NotifyFailureInput) {
  return notifyFailure(input, ports);
}

export const handler = lambdaHandler(NotifyFailureInput, handleNotifyFailure);
