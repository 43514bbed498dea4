/** Task `NotifySuccess` → `notifySuccess()`. Env: SLACK_WEBHOOK_PARAMETER. */
import { slackNotifier } from '#commons/aws/wiring.js';
import { NotifySuccessInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { notifySuccess } from '#commons/steps/notify-success.js';

const ports = { notifier: slackNotifier() };

export const handler = lambdaHandler(NotifySuccessInput, (input) => notifySuccess(input, ports));
