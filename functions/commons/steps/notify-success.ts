import type { Notifier } from '../ports.js';
import { buildSuccessNotification, executionConsoleUrl, type SuccessReport } from '../report.js';

/**
 * State `NotifySuccess`: report the promoted image (pipeline, base AMI, new AMI, commit, duration,
 * probe and retention summaries, console link). ResultPath is null: nothing is returned.
 * @throws SlackDeliveryFailed (or the notifier's error); the ASL's Catch still succeeds the execution.
 */
export async function notifySuccess(
  input: SuccessReport,
  ports: { notifier: Notifier },
  options: { now?: () => Date; executionUrl?: (executionArn: string | undefined) => string | undefined } = {},
): Promise<void> {
  const now = (options.now ?? (() => new Date()))();
  const url = (options.executionUrl ?? executionConsoleUrl)(input.build.executionArn);
  await ports.notifier.notify(buildSuccessNotification(input, now, url));
}
