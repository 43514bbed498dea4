/** Task `NotifySuccess` → `notifySuccess()`. Env: SLACK_WEBHOOK_PARAMETER, the cost settings (`config.costDeployment`). */
import { executionHistory, slackNotifier } from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { NotifySuccessInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { notifySuccess } from '#commons/steps/notify-success.js';

const ports = { notifier: slackNotifier(), history: executionHistory() };
/** The deployment's sizes for the cost estimate (a missing setting fails the cold start, by name). */
const backend = { kind: 'aws', cost: config.costDeployment } as const;

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleNotifySuccess(input: NotifySuccessInput) {
  return notifySuccess(input, ports, { backend });
}

export const handler = lambdaHandler(NotifySuccessInput, handleNotifySuccess);
