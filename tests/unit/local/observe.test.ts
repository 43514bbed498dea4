/**
 * Observing a local execution (`local/observe.ts`): the event log of aws-local-stepfunctions becomes
 * one progress line per Task event and the run summary's facts (states visited, time per state
 * summed over a poll loop's entries, the failure, the last document a state received).
 */
import { describe, expect, it } from 'vitest';
import { LocalExecutionHistory, observeExecution } from '#local/observe.js';

type EventLogs = Parameters<typeof observeExecution>[0];
const T0 = 1_000_000;

/** The event log of an execution, as an async iterable like `StateMachine.run().eventLogs`. */
const log = (events: Array<Record<string, unknown>>): EventLogs =>
  (async function* () {
    yield* events;
  })() as unknown as EventLogs;

const task = (name: string) => ({ name, type: 'Task' });

describe('observeExecution', () => {
  it('sums the time of every entry of a polled state and prints Task entries and exits', async () => {
    // Prepare: CheckInstanceOnline entered twice (a poll loop) around a Wait state.
    const lines: string[] = [];
    const events = log([
      { type: 'StateEntered', timestamp: T0, state: { ...task('CheckInstanceOnline'), input: { n: 1 } } },
      { type: 'StateExited', timestamp: T0 + 1500, state: task('CheckInstanceOnline') },
      { type: 'StateEntered', timestamp: T0 + 1500, state: { name: 'WaitOnline', type: 'Wait', input: {} } },
      { type: 'StateExited', timestamp: T0 + 6500, state: { name: 'WaitOnline', type: 'Wait' } },
      {
        type: 'StateEntered',
        timestamp: T0 + 6500,
        state: { ...task('CheckInstanceOnline'), input: { n: 2 } },
      },
      { type: 'StateExited', timestamp: T0 + 7000, state: task('CheckInstanceOnline') },
    ]);

    // Act
    const observation = observeExecution(events, T0, (text) => lines.push(text));
    await observation.done;

    // Assess
    expect(observation.visited).toEqual(['CheckInstanceOnline', 'WaitOnline', 'CheckInstanceOnline']);
    expect(observation.timings.get('CheckInstanceOnline')).toEqual({
      state: 'CheckInstanceOnline',
      seconds: 2,
      entries: 2,
    });
    expect(observation.timings.get('WaitOnline')).toMatchObject({ seconds: 5, entries: 1 });
    expect(observation.lastDocument).toEqual({ n: 2 });
    expect(observation.failure).toBeUndefined();
    // A Wait state is timed but not printed.
    expect(lines).toEqual([
      '[    0.0 s] ▶ CheckInstanceOnline\n',
      '[    1.5 s] ✔ CheckInstanceOnline (1.5 s)\n',
      '[    6.5 s] ▶ CheckInstanceOnline\n',
      '[    7.0 s] ✔ CheckInstanceOnline (0.5 s)\n',
    ]);
  });

  it('prints retries and the failed state, and keeps the execution failure and its last document', async () => {
    // Prepare
    const lines: string[] = [];
    const document = { build: { buildId: 'b-1' } };
    const events = log([
      { type: 'StateEntered', timestamp: T0, state: { ...task('PromoteImage'), input: document } },
      { type: 'StateRetried', timestamp: T0 + 100, state: task('PromoteImage'), retry: { attempt: 1 } },
      {
        type: 'StateFailed',
        timestamp: T0 + 2000,
        state: task('PromoteImage'),
        Error: 'CandidateNotFound',
        Cause: 'gone',
      },
      { type: 'ExecutionFailed', timestamp: T0 + 2100, Error: 'CandidateNotFound', Cause: 'gone' },
    ]);

    // Act
    const observation = observeExecution(events, T0, (text) => lines.push(text));
    await observation.done;

    // Assess
    expect(lines).toEqual([
      '[    0.0 s] ▶ PromoteImage\n',
      '[    0.1 s] ↻ PromoteImage retry 1\n',
      '[    2.0 s] ✘ PromoteImage: CandidateNotFound gone\n',
    ]);
    expect(observation.failure).toEqual({ Error: 'CandidateNotFound', Cause: 'gone' });
    expect(observation.lastDocument).toBe(document);
    expect(observation.timings.get('PromoteImage')).toMatchObject({ seconds: 2, entries: 1 });
  });

  it('settles without rejecting when the event log breaks off, keeping what it saw', async () => {
    // Prepare
    const broken = (async function* () {
      yield { type: 'StateEntered', timestamp: T0, state: { ...task('BakeImage'), input: {} } };
      throw new Error('log closed');
    })() as unknown as EventLogs;

    // Act
    const observation = observeExecution(broken, T0, () => undefined);

    // Assess
    await expect(observation.done).resolves.toBeUndefined();
    expect(observation.visited).toEqual(['BakeImage']);
  });
});

describe('LocalExecutionHistory', () => {
  it('records the runs GetExecutionHistory would list, the state in progress left open', async () => {
    // Prepare: a failed state (StateFailed closes its run), then NotifyFailure still running.
    const history = new LocalExecutionHistory();
    const events = log([
      { type: 'StateEntered', timestamp: T0, state: { ...task('CheckProbeResult'), input: {} } },
      { type: 'StateFailed', timestamp: T0 + 2000, state: task('CheckProbeResult'), Error: 'ProbeFailed' },
      { type: 'StateEntered', timestamp: T0 + 2000, state: { name: 'ProbeFailed', type: 'Pass', input: {} } },
      { type: 'StateExited', timestamp: T0 + 2100, state: { name: 'ProbeFailed', type: 'Pass' } },
      { type: 'StateEntered', timestamp: T0 + 2500, state: { ...task('NotifyFailure'), input: {} } },
    ]);

    // Act
    await observeExecution(events, T0 - 500, () => {}, history).done;
    const read = await history.runsOf('arn:aws:states:local:000000000000:execution:image-factory:x');

    // Assess
    expect(read).toEqual({
      startedAt: T0 - 500,
      runs: [
        { name: 'CheckProbeResult', type: 'Task', enteredAt: T0, exitedAt: T0 + 2000 },
        { name: 'ProbeFailed', type: 'Pass', enteredAt: T0 + 2000, exitedAt: T0 + 2100 },
        { name: 'NotifyFailure', type: 'Task', enteredAt: T0 + 2500 },
      ],
    });
    // Copies: the caller cannot change the record.
    (read.runs[0] as { name: string }).name = 'changed';
    expect(history.runs[0]?.name).toBe('CheckProbeResult');
  });
});
