/**
 * Observing a local execution: reads the event log of aws-local-stepfunctions, prints one line per
 * Task entered, finished, failed or retried, and keeps what the run summary reports (states
 * visited, time per state, the failure, the last document a state received).
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import type { StateRun } from '#commons/core/execution-history.js';
import type { ExecutionHistory } from '#commons/ports.js';

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
 * `ExecutionHistory` of the local backend: the runs of the execution being observed (one per
 * wiring: a local run executes one execution), recorded from its event log by
 * {@link observeExecution} as GetExecutionHistory would list them, so NotifySuccess and
 * NotifyFailure report local times through the same code as on AWS.
 */
export class LocalExecutionHistory implements ExecutionHistory {
  readonly runs: StateRun[] = [];
  startedAt: number | undefined;

  /** The runs so far (copies), whatever the ARN: the local execution's own id. */
  async runsOf(_executionArn: string): Promise<{ runs: StateRun[]; startedAt?: number | undefined }> {
    return { runs: this.runs.map((run) => ({ ...run })), startedAt: this.startedAt };
  }

  /** A state was entered at `at` (epoch ms): the open run of the previous state ends there. */
  entered(name: string, type: string, at: number): void {
    this.exited(at);
    this.runs.push({ name, type, enteredAt: at });
  }

  /** The open run, if any, ended at `at` (epoch ms). */
  exited(at: number): void {
    const open = this.runs.at(-1);
    if (open && open.exitedAt === undefined) open.exitedAt = at;
  }
}

/**
 * Starts consuming `eventLogs`; `started` (epoch ms) is the zero of the printed times. Each state
 * entered and left is also recorded in `history`, when given.
 * @returns the observation, filled as events arrive.
 */
export function observeExecution(
  eventLogs: EventLogs,
  started: number,
  write: (text: string) => void,
  history?: LocalExecutionHistory,
): ExecutionObservation {
  if (history) history.startedAt = started;
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
        history?.entered(event.state.name, event.state.type, event.timestamp);
        if (event.state.type === 'Task') write(`[${elapsed} s] ▶ ${event.state.name}\n`);
      } else if (event.type === 'StateExited' || event.type === 'StateFailed') {
        const from = enteredAt.get(event.state.name) ?? event.timestamp;
        history?.exited(event.timestamp);
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
