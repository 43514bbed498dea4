/** Task `NotifyFailure` → `notifyFailure()`. Env: SLACK_WEBHOOK_PARAMETER, STAGE, EVENT_BUS_NAME, the cost settings (`config.costDeployment`). */
import { eventPublisher, executionHistory, slackNotifier } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { NotifyFailureInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';

const ports = { notifier: slackNotifier(), events: eventPublisher(), history: executionHistory() };
/** The deployment's sizes for the cost estimate (a missing setting fails the cold start, by name). */
const backend = { kind: 'aws', cost: config.costDeployment } as const;

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleNotifyFailure(input: NotifyFailureInput) {
  return notifyFailure(input, ports, { backend });
}

export const handler = lambdaHandler(NotifyFailureInput, handleNotifyFailure);
