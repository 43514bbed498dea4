import type { ExecutionHistory, Notifier } from '../ports.js';
import {
  buildSuccessNotification,
  executionConsoleUrl,
  type ReportBackend,
  type ReportRuns,
  type SuccessReport,
} from '../report.js';

/**
 * The execution's state runs for the report, or why there are none: no history port or no
 * execution ARN (`no execution history`), or the error's name when reading failed (permissions,
 * throttling after the SDK's retries, an over-long history). Never throws: a report without time
 * and cost beats no report.
 */
export async function reportRuns(
  history: ExecutionHistory | undefined,
  executionArn: string | undefined,
): Promise<ReportRuns> {
  if (history === undefined || executionArn === undefined) return { unavailable: 'no execution history' };
  try {
    return await history.runsOf(executionArn);
  } catch (error) {
    return { unavailable: `history not read (${(error as Error).name || 'Error'})` };
  }
}

/**
 * State `NotifySuccess`: report the promoted image (pipeline, base AMI, new AMI, commit, time in
 * total and per phase, estimated cost on AWS, probe and retention summaries, console links to the
 * execution and the image). The time and cost come from the execution's history (`ports.history`);
 * when it cannot be read the report still goes out, saying so. ResultPath is null: nothing is returned.
 * The package diff of issue 11 point 4 is not reported yet (it needs the SBOM, not on main).
 * @throws SlackDeliveryFailed (or the notifier's error); the ASL's Catch still succeeds the execution.
 */
export async function notifySuccess(
  input: SuccessReport,
  ports: { notifier: Notifier; history?: ExecutionHistory | undefined },
  options: {
    now?: () => Date;
    executionUrl?: (executionArn: string | undefined) => string | undefined;
    /** Where the execution runs (default: AWS without a cost profile, i.e. no time or cost section). */
    backend?: ReportBackend | undefined;
  } = {},
): Promise<void> {
  const url = (options.executionUrl ?? executionConsoleUrl)(input.build.executionArn);
  const run = options.backend && {
    runs: await reportRuns(ports.history, input.build.executionArn),
    backend: options.backend,
  };
  // Read after the history, so the total covers every run it lists.
  const now = (options.now ?? (() => new Date()))();
  await ports.notifier.notify(buildSuccessNotification(input, now, url, run));
}
