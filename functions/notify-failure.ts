/** Task `NotifyFailure` → `notifyFailure()`. Env: SLACK_WEBHOOK_PARAMETER. */
import { slackNotifier } from '#commons/aws/wiring.js';
import { NotifyFailureInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';

const ports = { notifier: slackNotifier() };

export const handler = lambdaHandler(NotifyFailureInput, (input) => notifyFailure(input, ports));
