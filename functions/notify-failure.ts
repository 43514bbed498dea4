/** Task `NotifyFailure` → `notifyFailure()`. Env: SLACK_WEBHOOK_PARAMETER, STAGE, EVENT_BUS_NAME. */
import { eventPublisher, slackNotifier } from '#commons/aws/wiring.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { NotifyFailureInput } from '#commons/schemas.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';

const ports = { notifier: slackNotifier(), events: eventPublisher() };

export const handler = lambdaHandler(NotifyFailureInput, (input) => notifyFailure(input, ports));
