/**
 * Observing a local execution: reads the event log of aws-local-stepfunctions, prints one line per
 * Task entered, finished, failed or retried, and keeps what the run summary reports (states
 * visited, time per state, the failure, the last document a state received).
 */
import type { StateMachine } from 'aws-local-stepfunctions';

type EventLogs = ReturnType<StateMachine['run']>['eventLogs'];

export interface StateTiming {
  state: string;
  /** Wall time in seconds, summed over every entry of the state (poll loops enter it often). */
  seconds: number;
  entries: number;
}

/** What the event log said, complete once {@link ExecutionObservation.done} settles. */
export interface ExecutionObservation {
  readonly visited: string[];
  readonly timings: Map<string, StateTiming>;
  /** The execution's failure, when its log reported one. */
  failure: { Error: string; Cause: string } | undefined;
  /** The document the last state received: after a failure, what the execution knew. */
  lastDocument: Record<string, unknown> | undefined;
  /** Settles when the log ends; never rejects. */
  readonly done: Promise<void>;
}

/**
 * Starts consuming `eventLogs`; `started` (epoch ms) is the zero of the printed times.
 * @returns the observation, filled as events arrive.
 */
export function observeExecution(
  eventLogs: EventLogs,
  started: number,
  write: (text: string) => void,
): ExecutionObservation {
  const enteredAt = new Map<string, number>();
  const observation: Omit<ExecutionObservation, 'done'> = {
    visited: [],
    timings: new Map(),
    failure: undefined,
    lastDocument: undefined,
  };
  const consume = async (): Promise<void> => {
    for await (const event of eventLogs) {
      const elapsed = ((event.timestamp - started) / 1000).toFixed(1).padStart(7);
      if (event.type === 'StateEntered') {
        enteredAt.set(event.state.name, event.timestamp);
        observation.lastDocument = event.state.input as Record<string, unknown>;
        observation.visited.push(event.state.name);
        if (event.state.type === 'Task') write(`[${elapsed} s] ▶ ${event.state.name}\n`);
      } else if (event.type === 'StateExited' || event.type === 'StateFailed') {
        const from = enteredAt.get(event.state.name) ?? event.timestamp;
        const timing = observation.timings.get(event.state.name) ?? {
          state: event.state.name,
          seconds: 0,
          entries: 0,
        };
        timing.seconds += (event.timestamp - from) / 1000;
        timing.entries += 1;
        observation.timings.set(event.state.name, timing);
        if (event.type === 'StateFailed') {
          write(`[${elapsed} s] ✘ ${event.state.name}: ${event.Error} ${String(event.Cause ?? '')}\n`);
        } else if (event.state.type === 'Task') {
          write(`[${elapsed} s] ✔ ${event.state.name} (${((event.timestamp - from) / 1000).toFixed(1)} s)\n`);
        }
      } else if (event.type === 'StateRetried') {
        write(`[${elapsed} s] ↻ ${event.state.name} retry ${event.retry.attempt}\n`);
      } else if (event.type === 'ExecutionFailed') {
        observation.failure = { Error: event.Error, Cause: String(event.Cause ?? '') };
      }
    }
  };
  return Object.assign(observation, { done: consume().catch(() => {}) });
}
