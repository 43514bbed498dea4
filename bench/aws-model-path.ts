/**
 * The AWS model's timeline of one successful execution, built on the real ASL:
 * {@link visitedStates} executes `statemachines/image-factory.asl.yaml` with aws-local-stepfunctions
 * (waits at 0 ms) and doubles that report the instance online at check `k` and the probe complete
 * at read `m`, so every state entered, and hence every state transition, comes from the definition.
 * {@link timeline} then gives each entered state its duration: Wait states their `Seconds` (from the
 * ASL, or a variant being compared), Tasks the durations of `aws-model-inputs.ts`.
 */
import '#local/compat.js';
import { StateMachine } from 'aws-local-stepfunctions';
import type { BuildUsage } from '#commons/core/build-cost.js';
import {
  allStates,
  loadDefinition,
  type PollLoop,
  taskStateNames,
  waitStateNames,
} from '#statemachines/definition.js';
import { BAKE_PHASES, type Duration, LAMBDA_INIT, LAMBDA_TASKS, type Scenario } from './aws-model-inputs.js';

type Json = Record<string, unknown>;
/** A JSON value as aws-local-stepfunctions passes it to and from Task handlers. */
type JsonValue = Parameters<StateMachine['run']>[0];

const paths = new Map<string, Promise<string[]>>();

/** Previous value of a poll's attempt counter in the execution document. */
const previous = (input: Json, key: string): number =>
  ((input[key] as { attempt?: number } | undefined)?.attempt ?? 0) as number;

/**
 * The Seconds of every Wait state of `definition`, those inside Map states included (by name). Pure.
 */
export function aslWaitSeconds(definition: ReturnType<typeof loadDefinition>): Record<string, number> {
  const states = allStates(definition.States) as Record<string, { Seconds?: number }>;
  return Object.fromEntries(waitStateNames(definition).map((name) => [name, states[name]?.Seconds ?? 0]));
}

/**
 * The states a successful execution enters, in order, when the `k`-th online check finds the
 * instance online and the `m`-th probe read finds the probe done (memoized).
 * @throws Error when that execution does not succeed (e.g. `k` beyond the poll bound).
 */
export function visitedStates(k: number, m: number): Promise<string[]> {
  const key = `${k}/${m}`;
  let path = paths.get(key);
  if (path === undefined) {
    path = runPath(k, m);
    paths.set(key, path);
  }
  return path;
}

async function runPath(k: number, m: number): Promise<string[]> {
  const definition = loadDefinition();
  const results: Record<string, (input: Json) => JsonValue> = {
    PrepareBuild: () => ({
      buildId: 'model',
      pipeline: 'web',
      channel: 'stable',
      baseImage: 'ubuntu-24.04',
      sourceImageId: 'ami-0123456789abcdef0',
      executionName: 'model',
      // The default pipeline distributes to the stack's own region only (its image is the candidate).
      distribution: {
        regions: [{ region: 'us-east-1', home: true, kmsKeyId: null }],
        shareWith: { accounts: [], organizations: [], organizationalUnits: [] },
        onRegionFailure: 'promote-none',
        bakeKmsKeyId: '',
      },
    }),
    BakeImage: () => ({ TaskArn: 'arn:aws:ecs:us-east-1:123456789012:task/model', LastStatus: 'STOPPED' }),
    // A successful execution passed the vulnerability gate (IsVulnerabilityGatePassed reads the outcome).
    InspectCandidate: () => ({ verdict: { outcome: 'pass' } }),
    CheckInstanceOnline: (input) => {
      const attempt = previous(input, 'online') + 1;
      return { online: attempt >= k, attempt };
    },
    CheckProbeResult: (input) => {
      const attempt = previous(input, 'probeResult') + 1;
      return { status: attempt >= m ? 'Success' : 'InProgress', attempt };
    },
    CheckRegionCopy: () => ({ available: true, attempt: 1 }),
  };
  const handlers = Object.fromEntries(
    taskStateNames(definition).map((name) => [
      name,
      (input: JsonValue) => results[name]?.(input as Json) ?? {},
    ]),
  );
  const execution = new StateMachine(definition).run(
    { pipeline: 'web' },
    {
      overrides: {
        taskResourceLocalHandlers: handlers,
        waitTimeOverrides: Object.fromEntries(waitStateNames(definition).map((name) => [name, 0])),
      },
    },
  );
  const visited: string[] = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs)
      if (event.type === 'StateEntered') visited.push(event.state.name);
  })();
  try {
    await execution.result;
  } finally {
    await collecting;
  }
  if (visited.at(-1) !== 'PipelineSucceeded')
    throw new Error(`k=${k}, m=${m}: the execution did not succeed`);
  return visited;
}

/**
 * Checks of a poll loop until it sees its condition: the j-th check starts `firstWait + (j - 1) ×
 * (check + wait)` seconds after the loop's entry state ended, and succeeds once that is ≥ `readyAfter`.
 */
export function checksUntil(readyAfter: number, firstWait: number, wait: number, check: number): number {
  return readyAfter <= firstWait ? 1 : Math.ceil((readyAfter - firstWait) / (check + wait)) + 1;
}

/**
 * One execution's timeline: seconds from its start, and what it used (`BuildUsage`, the cost
 * formula's input: transitions, Lambda, Fargate, builder and test instance time).
 */
export interface Timeline extends BuildUsage {
  /** End of PromoteImage (the channel points at the new image). */
  promoted: number;
  /** End of the execution (PipelineSucceeded entered). */
  end: number;
  /** Start times of each poll's checks, relative to the end of its entry state. */
  checkStarts: Record<string, number[]>;
}

const at = (duration: Duration, scenario: Scenario): number => duration[scenario];

/**
 * Walks `visited` giving each state its duration. `waits` holds the Seconds of every Wait state
 * (the ASL's, or a variant's).
 * @throws Error for a Task state the model has no duration for.
 */
export function timeline(
  visited: readonly string[],
  scenario: Scenario,
  waits: Readonly<Record<string, number>>,
  loops: readonly PollLoop[],
): Timeline {
  const lambdaStarted = new Set<string>();
  const result: Timeline = {
    promoted: 0,
    end: 0,
    transitions: visited.length,
    lambdaInvocations: 0,
    lambdaSeconds: 0,
    bakeSeconds: 0,
    builderRunningSeconds: 0,
    builderStoppedSeconds: 0,
    testInstanceSeconds: 0,
    checkStarts: Object.fromEntries(loops.map((loop) => [loop.check, []])),
  };
  const entryEnd: Record<string, number> = {};
  let now = 0;
  let launched = 0;
  for (const state of visited) {
    const loop = loops.find((candidate) => candidate.check === state);
    if (loop) result.checkStarts[state]?.push(now - (entryEnd[loop.entry] ?? 0));
    if (state === 'LaunchTestInstance') launched = now;
    let seconds = 0;
    if (state in waits) seconds = waits[state] as number;
    else if (state === 'BakeImage') {
      for (const phase of Object.values(BAKE_PHASES)) {
        const phaseSeconds = at(phase, scenario);
        seconds += phaseSeconds;
        if (phase.builder === 'running') result.builderRunningSeconds += phaseSeconds;
        if (phase.builder === 'stopped') result.builderStoppedSeconds += phaseSeconds;
      }
      result.bakeSeconds = seconds;
    } else if (LAMBDA_TASKS[state] !== undefined) {
      seconds =
        at(LAMBDA_TASKS[state], scenario) + (lambdaStarted.has(state) ? 0 : at(LAMBDA_INIT, scenario));
      lambdaStarted.add(state);
      result.lambdaInvocations += 1;
      result.lambdaSeconds += seconds;
    } else if (stateType(state) === 'Task') throw new Error(`no duration for Task state ${state}`);
    now += seconds;
    entryEnd[state] = now;
    if (state === 'PromoteImage') result.promoted = now;
    if (state === 'TerminateTestInstance') result.testInstanceSeconds = now - launched;
  }
  result.end = now;
  return result;
}

let types: Record<string, string> | undefined;
function stateType(name: string): string {
  types ??= Object.fromEntries(
    Object.entries(allStates(loadDefinition().States)).map(([key, state]) => [
      key,
      (state as { Type: string }).Type,
    ]),
  );
  return types[name] ?? 'unknown';
}
