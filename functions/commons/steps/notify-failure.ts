import { buildFailed, type ProbeFacts } from '../core/events.js';
import type { EventPublisher, ExecutionHistory, Notifier } from '../ports.js';
import {
  buildFailureNotification,
  executionConsoleUrl,
  inferFailedState,
  type ReportBackend,
} from '../report.js';
import type { Build, CaughtError } from '../schemas.js';
import { reportRuns } from './notify-success.js';

/**
 * State `NotifyFailure`: publish `Build Failed` (`core/events.ts`) and report the failed state, the
 * error and its cause, with the time and estimated cost so far when the history can be read
 * (`notifySuccess`'s rules; without `$.build` there is no execution ARN, hence neither).
 * Works without `$.build` (when PrepareBuild itself failed) using the raw `pipeline` input; then no
 * build exists and no event is published (the report still goes out).
 * The report is sent whether or not the event was published, so that EventBridge trouble never
 * silences it; a failed publication is thrown afterwards, and the ASL retries the state on
 * `EventPublishFailed` (sending the report again: at least once for both).
 * @throws EventPublishFailed when the event was not published; otherwise SlackDeliveryFailed (or
 *   the notifier's error). The ASL's Catch continues either way once the retries are spent.
 */
export async function notifyFailure(
  input: Record<string, unknown> & {
    build?: Build | undefined;
    pipeline?: string | undefined;
    error?: CaughtError | undefined;
    candidate?: { imageId: string } | undefined;
    probeResult?: ProbeFacts | undefined;
  },
  ports: { notifier: Notifier; events: EventPublisher; history?: ExecutionHistory | undefined },
  options: {
    now?: () => Date;
    executionUrl?: (executionArn: string | undefined) => string | undefined;
    backend?: ReportBackend | undefined;
  } = {},
): Promise<void> {
  let unpublished: unknown;
  if (input.build) {
    try {
      await ports.events.publish([
        buildFailed(ports.events.origin, {
          build: input.build,
          candidateImageId: input.candidate?.imageId,
          probe: input.probeResult,
          error: input.error,
          failedState: inferFailedState(input, input.error),
        }),
      ]);
    } catch (error) {
      unpublished = error;
    }
  }
  const url = (options.executionUrl ?? executionConsoleUrl)(input.build?.executionArn);
  const run = options.backend && {
    runs: await reportRuns(ports.history, input.build?.executionArn),
    backend: options.backend,
    now: (options.now ?? (() => new Date()))(),
  };
  try {
    await ports.notifier.notify(buildFailureNotification(input, input.error, url, run));
  } catch (error) {
    // The publication's error wins: the ASL retries on it, not on the notifier's.
    if (unpublished === undefined) throw error;
  }
  if (unpublished !== undefined) throw unpublished;
}
