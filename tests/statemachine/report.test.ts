/**
 * The report's copies of ASL facts (`functions/commons/report.ts`) against
 * `statemachines/image-factory.asl.yaml`: the Task states of the success path and their
 * ResultPaths (`RESULT_PATHS`), and which state raises each named error (`ERROR_STATES`).
 */
import { describe, expect, it } from 'vitest';
import { BAKE_STATE, PHASE_STARTS, TEST_INSTANCE_STATES } from '#commons/core/build-times.js';
import * as errors from '#commons/errors.js';
import { ERROR_STATES, RESULT_PATHS } from '#commons/report.js';
import { allStates, lambdaFunctionKeys, pollLoops, readRawDefinition } from '#statemachines/definition.js';

type State = Record<string, unknown> & {
  Type: string;
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  ResultPath?: string | null;
  Retry?: { ErrorEquals: string[] }[];
  Parameters?: Record<string, unknown>;
};

const definition = readRawDefinition() as { StartAt: string; States: Record<string, State> };
const states = definition.States;

/** The states a state moves to without an error (Next, Choice rules, Default; no Catch). */
const successors = (state: State): string[] =>
  [state.Next, ...(state.Choices ?? []).map((choice) => choice.Next), state.Default].filter(
    (name): name is string => name !== undefined,
  );

/** Task states from StartAt that can reach a Succeed state, breadth first, with their `$.<key>`. */
const successPathResults = (): [string, string][] => {
  const order: string[] = [];
  const queue = [definition.StartAt];
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (order.includes(name)) continue;
    order.push(name);
    queue.push(...successors(states[name] as State));
  }
  const reachesSuccess = new Set(
    Object.entries(states)
      .filter(([, state]) => state.Type === 'Succeed')
      .map(([name]) => name),
  );
  for (let grown = true; grown; ) {
    grown = false;
    for (const [name, state] of Object.entries(states)) {
      if (!reachesSuccess.has(name) && successors(state).some((next) => reachesSuccess.has(next))) {
        reachesSuccess.add(name);
        grown = true;
      }
    }
  }
  return order
    .filter((name) => ['Task', 'Map'].includes(String(states[name]?.Type)) && reachesSuccess.has(name))
    .flatMap((name) => {
      const key = /^\$\.(\w+)$/.exec(String(states[name]?.ResultPath))?.[1];
      return key === undefined ? [] : [[name, key] as [string, string]];
    });
};

/** Pass states that record an error themselves, with the Choice that leads to each. */
const recordedErrors = (): { error: string; pass: string; choice: string }[] =>
  Object.entries(states).flatMap(([pass, state]) => {
    const error = state.Type === 'Pass' ? state.Parameters?.Error : undefined;
    if (typeof error !== 'string') return [];
    const choice = Object.entries(states).find(
      ([, other]) => other.Type === 'Choice' && successors(other).includes(pass),
    )?.[0];
    return [{ error, pass, choice: choice ?? 'none' }];
  });

describe('report facts against the ASL', () => {
  it('RESULT_PATHS lists the success-path Tasks in order with their ResultPaths', () => {
    expect(RESULT_PATHS.map(([state, key]) => [state, key])).toEqual(successPathResults());
  });

  it('ERROR_STATES names a Task state of the ASL for every error', () => {
    for (const [error, state] of Object.entries(ERROR_STATES))
      expect(states[state]?.Type, error).toBe('Task');
  });

  it('ERROR_STATES maps every error a Pass state records to the Task whose result its Choice tests', () => {
    const checkOf = Object.fromEntries(Object.values(pollLoops()).map((loop) => [loop.choice, loop.check]));
    const taskBefore = (choice: string) =>
      checkOf[choice] ??
      Object.entries(states).find(([, state]) => state.Type === 'Task' && state.Next === choice)?.[0];
    const recorded = recordedErrors();

    expect(recorded.map(({ error }) => error).sort()).toEqual([
      'InstanceNeverOnline',
      'ProbeFailed',
      'ProbeTimedOut',
      'VulnerabilityGateFailed',
    ]);
    for (const { error, choice } of recorded) expect(ERROR_STATES[error], error).toBe(taskBefore(choice));
  });

  it('ERROR_STATES maps every error a Task retries by name to that Task, where it can become $.error', () => {
    // A Task whose Catch records elsewhere (NotifyFailure: $.notificationError) never puts its
    // error at $.error, which is all inferFailedState reads.
    const recordsAtError = (state: State) =>
      ((state.Catch ?? []) as { ResultPath?: string }[]).some((catcher) => catcher.ResultPath === '$.error');
    const retried = Object.entries(states).flatMap(([name, state]) =>
      (recordsAtError(state) ? (state.Retry ?? []) : [])
        .flatMap((retrier) => retrier.ErrorEquals)
        .filter((error) => !/^(Lambda|States|ECS|AmazonECS)\./.test(error))
        .map((error) => [error, name] as const),
    );

    expect(retried.length).toBeGreaterThan(0);
    for (const [error, state] of retried) expect(ERROR_STATES[error], error).toBe(state);
  });

  it('ERROR_STATES names only errors the factory defines', () => {
    const defined = Object.values(errors)
      .filter((value): value is typeof Error => typeof value === 'function')
      .map((value) => value.name);

    for (const error of Object.keys(ERROR_STATES)) expect(defined, error).toContain(error);
  });
});

describe('build-times facts against the ASL (core/build-times.ts)', () => {
  const every = allStates(states) as Record<string, State>;

  it('BAKE_STATE is the one Task that is not a Lambda: the ECS runTask.sync Packer task', () => {
    const tasks = Object.entries(every).filter(([, state]) => state.Type === 'Task');
    const lambdas = Object.keys(lambdaFunctionKeys());

    expect(every[BAKE_STATE]?.Resource).toBe('arn:aws:states:::ecs:runTask.sync');
    expect(tasks.map(([name]) => name).filter((name) => !lambdas.includes(name))).toEqual([BAKE_STATE]);
  });

  it('PHASE_STARTS and TEST_INSTANCE_STATES name states of the ASL', () => {
    for (const [state, phase] of PHASE_STARTS) expect(every[state], `${phase}: ${state}`).toBeDefined();
    for (const state of Object.values(TEST_INSTANCE_STATES)) expect(every[state]?.Type, state).toBe('Task');
  });
});
