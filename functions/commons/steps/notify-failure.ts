import type { Notifier } from '../ports.js';
import { buildFailureNotification, executionConsoleUrl } from '../report.js';
import type { Build, CaughtError } from '../schemas.js';

/**
 * State `NotifyFailure`: report the failed state, the error and its cause.
 * Works without `$.build` (when PrepareBuild itself failed) using the raw `pipeline` input.
 * @throws SlackDeliveryFailed (or the notifier's error); the ASL's Catch continues.
 */
export async function notifyFailure(
  input: Record<string, unknown> & {
    build?: Build | undefined;
    pipeline?: string | undefined;
    error?: CaughtError | undefined;
  },
  ports: { notifier: Notifier },
  options: { executionUrl?: (executionArn: string | undefined) => string | undefined } = {},
): Promise<void> {
  const url = (options.executionUrl ?? executionConsoleUrl)(input.build?.executionArn);
  await ports.notifier.notify(buildFailureNotification(input, input.error, url));
}
