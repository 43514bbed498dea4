/**
 * Running one local execution: the ASL on aws-local-stepfunctions, every Task served from the
 * local task table (`local/tasks.ts`), the Wait states shortened for a local VM.
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import { observeExecution, type StateTiming } from '#local/observe.js';
import { reapVms } from '#local/qemu/vm.js';
import { LOCAL_TASKS, type LocalTaskContext } from '#local/tasks.js';

/** A JSON value as aws-local-stepfunctions passes it to and from Task handlers. */
type JSONValue = Parameters<StateMachine['run']>[0];

/** What one execution ended with. */
export interface ExecutionOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  /** The final document or, when the execution did not succeed, the last document a state received. */
  output: Record<string, unknown> | undefined;
  failure: { Error: string; Cause: string } | undefined;
  visited: string[];
  timings: StateTiming[];
}

/**
 * Runs one execution with every Task served from the local task table, waits for it, for the
 * Task handlers still in flight and for the event log, then reaps the VMs of the state directory.
 * An abort of `run.signal` aborts the execution (status ABORTED).
 * @returns the outcome; a failed execution is status FAILED, not an exception.
 */
export async function runExecution(
  stateMachine: StateMachine,
  executionInput: Record<string, unknown>,
  run: {
    name: string;
    started: number;
    context: LocalTaskContext;
    /** VM directory reaped at the end. */
    vmDir: string;
    /** Milliseconds of WaitForInstanceOnline and WaitForProbe (WaitForInstanceBoot is skipped). */
    waitMs: { online: number; probe: number };
    signal?: AbortSignal | undefined;
    write: (text: string) => void;
  },
): Promise<ExecutionOutcome> {
  // A Task handler still running when the execution is aborted (Ctrl-C) or times out goes on in
  // the background (aws-local-stepfunctions does not cancel it): track every call so that the run
  // waits for them (Packer cleaning up its VM, a launch finishing) before it reaps VMs and returns.
  const inFlight = new Set<Promise<JSONValue>>();
  const handlers = Object.fromEntries(
    Object.entries(LOCAL_TASKS).map(([state, task]) => [
      state,
      (raw: JSONValue): Promise<JSONValue> => {
        const call = task.run(raw, run.context) as Promise<JSONValue>;
        inFlight.add(call);
        void call.then(
          () => inFlight.delete(call),
          () => inFlight.delete(call),
        );
        return call;
      },
    ]),
  );
  const waits = {
    // Sized for an EC2 boot; a local VM is polled from the start, as before the wait existed.
    WaitForInstanceBoot: 0,
    // The local checks wait themselves (up to the poll interval, answering as soon as the agent
    // or the probe does: local/wiring.ts), so the Wait states between them take no time.
    WaitForInstanceOnline: run.waitMs.online,
    WaitForProbe: run.waitMs.probe,
  };
  const execution = stateMachine.run(executionInput as JSONValue, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits },
    context: {
      Execution: {
        Id: `arn:aws:states:local:000000000000:execution:image-factory:${run.name}`,
        Name: run.name,
        StartTime: new Date(run.started).toISOString(),
        Input: executionInput as JSONValue,
        RoleArn: 'arn:aws:iam::000000000000:role/local',
      },
    } as never,
    noThrowOnAbort: true,
  });
  const { signal } = run;
  const onAbort = (): void => execution.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const observed = observeExecution(execution.eventLogs, run.started, run.write, run.context.ports.history);

  let status: ExecutionOutcome['status'] = 'SUCCEEDED';
  let output: Record<string, unknown> | undefined;
  try {
    output = (await execution.result) as Record<string, unknown> | undefined;
    if (output === null || signal?.aborted) status = 'ABORTED';
  } catch (error) {
    status = 'FAILED';
    observed.failure ??= { Error: (error as Error).name, Cause: (error as Error).message };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await observed.done;
    await Promise.allSettled([...inFlight]);
    // Whatever happened, no VM of this state directory outlives the run.
    await reapVms(run.vmDir, { graceSeconds: 3 });
  }
  return {
    status,
    output: status === 'SUCCEEDED' ? output : observed.lastDocument,
    failure: observed.failure,
    visited: observed.visited,
    timings: [...observed.timings.values()],
  };
}
