/**
 * Reading a Step Functions execution history: which states ran, for how long, where the execution
 * failed. Pure; the shapes are those of `GetExecutionHistory`
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html,
 * `HistoryEvent`): a state's run opens with `<Type>StateEntered` (`stateEnteredEventDetails.name`)
 * and closes with `<Type>StateExited`; failures are `…Failed` / `…TimedOut` events whose
 * `…EventDetails` carry `error` and `cause`; the execution ends with `ExecutionSucceeded`,
 * `ExecutionFailed`, `ExecutionAborted` or `ExecutionTimedOut`.
 */

/** The part of a `HistoryEvent` read here. */
export interface HistoryEventLike {
  id: number;
  type: string;
  /** When it happened. */
  timestamp: Date;
  stateEnteredEventDetails?: { name?: string | undefined } | undefined;
  stateExitedEventDetails?: { name?: string | undefined } | undefined;
  [details: string]: unknown;
}

/** One run of one state (a poll loop runs its states many times). */
export interface StateRun {
  name: string;
  /** `Task`, `Wait`, `Pass`, `Choice`, `Succeed`, `Fail`, … */
  type: string;
  /** Epoch milliseconds. */
  enteredAt: number;
  /** Epoch milliseconds; absent while the state runs. */
  exitedAt?: number;
  /** The error the state raised, when it failed (caught or not). */
  failure?: { error: string; cause: string };
}

/** How an execution ended, from its history. */
export interface ExecutionEnd {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  /** Epoch milliseconds. */
  at: number;
  error?: string;
  cause?: string;
}

/** The state the pipeline enters after any failure (the ASL's `Catch` target). */
export const CLEANUP_STATE = 'CleanupAfterFailure';

const END_EVENTS: Readonly<Record<string, ExecutionEnd['status']>> = {
  ExecutionSucceeded: 'SUCCEEDED',
  ExecutionFailed: 'FAILED',
  ExecutionAborted: 'ABORTED',
  ExecutionTimedOut: 'TIMED_OUT',
};

/** `error` and `cause` of a failure event's `…EventDetails`, when it has them. */
const failureOf = (event: HistoryEventLike): { error: string; cause: string } | undefined => {
  if (!/(Failed|TimedOut|Aborted)$/.test(event.type)) return undefined;
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith('EventDetails') || typeof value !== 'object' || value === null) continue;
    const details = value as { error?: unknown; cause?: unknown };
    if (details.error !== undefined || details.cause !== undefined) {
      return { error: String(details.error ?? ''), cause: String(details.cause ?? '') };
    }
  }
  return { error: event.type, cause: '' };
};

/**
 * Follows a history as it grows: feed it events (any order within a batch, each once) and it
 * returns the runs that closed. A run closes at its `…StateExited` event, or when the next state
 * is entered (a caught failure leaves the state without an exit event).
 */
export class StateTracker {
  readonly runs: StateRun[] = [];
  startedAt: number | undefined;
  end: ExecutionEnd | undefined;
  #open: StateRun | undefined;
  #lastId = 0;

  /** Id of the newest event seen (0 before any). */
  get lastId(): number {
    return this.#lastId;
  }

  /** The state running now, if any. */
  get open(): StateRun | undefined {
    return this.#open;
  }

  /** @returns the runs closed by these events, in order. */
  add(events: readonly HistoryEventLike[]): StateRun[] {
    const closed: StateRun[] = [];
    const close = (at: number): void => {
      if (!this.#open) return;
      this.#open.exitedAt = at;
      closed.push(this.#open);
      this.#open = undefined;
    };
    for (const event of [...events].sort((a, b) => a.id - b.id)) {
      if (event.id <= this.#lastId) continue;
      this.#lastId = event.id;
      const at = event.timestamp.getTime();
      if (event.type === 'ExecutionStarted') this.startedAt = at;
      const entered = event.stateEnteredEventDetails?.name;
      if (event.type.endsWith('StateEntered') && entered !== undefined) {
        close(at);
        this.#open = { name: entered, type: event.type.slice(0, -'StateEntered'.length), enteredAt: at };
        this.runs.push(this.#open);
        continue;
      }
      if (event.type.endsWith('StateExited')) {
        close(at);
        continue;
      }
      const status = END_EVENTS[event.type];
      const failure = failureOf(event);
      if (status) {
        close(at);
        this.end = { status, at, ...(failure ? { error: failure.error, cause: failure.cause } : {}) };
      } else if (failure && this.#open) {
        this.#open.failure = failure;
      }
    }
    return closed;
  }
}

/** Every run of a whole history (convenience over {@link StateTracker}). */
export const readHistory = (
  events: readonly HistoryEventLike[],
): { runs: StateRun[]; startedAt?: number; end?: ExecutionEnd } => {
  const tracker = new StateTracker();
  tracker.add(events);
  return {
    runs: tracker.runs,
    ...(tracker.startedAt === undefined ? {} : { startedAt: tracker.startedAt }),
    ...(tracker.end ? { end: tracker.end } : {}),
  };
};

/**
 * The state an execution failed in, from the names of the states it entered in order: the state
 * entered just before the first `CleanupAfterFailure` (the Task whose error was caught, or the Pass
 * state a poll loop records its failure with, e.g. `ProbeFailed`); without a cleanup, for an
 * execution that did not succeed, the last state entered (where it was aborted or timed out).
 * @returns undefined for a succeeded or running execution with no cleanup.
 */
export const failingState = (visited: readonly string[], status: string): string | undefined => {
  const cleanup = visited.indexOf(CLEANUP_STATE);
  if (cleanup > 0) return visited[cleanup - 1];
  if (status === 'SUCCEEDED' || status === 'RUNNING') return undefined;
  return visited.at(-1);
};

/** Seconds per state, summed over every run, in order of first entry. */
export const timePerState = (
  runs: readonly StateRun[],
  now: number,
): Array<{ state: string; seconds: number; entries: number }> => {
  const totals = new Map<string, { state: string; seconds: number; entries: number }>();
  for (const run of runs) {
    const total = totals.get(run.name) ?? { state: run.name, seconds: 0, entries: 0 };
    total.seconds += ((run.exitedAt ?? now) - run.enteredAt) / 1000;
    total.entries += 1;
    totals.set(run.name, total);
  }
  return [...totals.values()];
};
