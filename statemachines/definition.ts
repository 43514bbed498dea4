/**
 * Loads `statemachines/image-factory.asl.yaml` for local execution and tests.
 *
 * The YAML is written for serverless-step-functions: Lambda tasks name their function with
 * `Fn::GetAtt: [<function key>, Arn]`, the Fargate bake uses `Ref` / `Fn::GetAtt` on stack
 * resources and `${param:...}` variables. Neither is meaningful outside CloudFormation, so
 * {@link loadDefinition} replaces them with placeholders:
 *
 * - `Fn::GetAtt: [<kebab-case function key>, Arn]` →
 *   `arn:aws:lambda:<region>:<accountId>:function:golden-image-factory-<stage>-<key>`
 *   (the name osls gives a function: `<service>-<stage>-<key>`);
 * - any other `Ref` / `Fn::GetAtt` / `Fn::*` → the string `local:<LogicalId>[.<Attribute>]`;
 * - a string that is exactly one `${source:address}` variable → `variables[source:address]` when
 *   given, else the string `local:<source:address>`; a variable inside a longer string is replaced
 *   by the same value as text (e.g. `States.StringSplit('${param:bakeSubnetIds}', ',')`).
 *
 * Locally every Task state is overridden by state name (aws-local-stepfunctions
 * `taskResourceLocalHandlers`), so the placeholders are never called; they only have to pass the
 * definition validation (ARN syntax in `Resource`).
 *
 * Local execution contract (what a runner must provide):
 * - execution input: `{ pipeline, channel, trigger, baseImage, sourceImageId?, commit?, repository? }`
 *   (docs/design.md "Execution state");
 * - run option `context: { Execution: { Id, Name } }`: PrepareBuild receives
 *   `{ input: $, execution: $$.Execution }` and the library itself sets only `Input`/`StartTime`;
 * - a handler for every name in {@link taskStateNames}: Lambda tasks get the whole execution
 *   document and return their result; `BakeImage` gets the ECS RunTask request (Parameters
 *   resolved; `Overrides.ContainerOverrides[0].Environment` carries BASE_IMAGE, SOURCE_AMI_ID,
 *   BUILD_ID, PIPELINE, CHANNEL, EXECUTION_NAME, BUILD_JSON) and must return an object with
 *   `TaskArn` and `LastStatus` (the stopped-task shape its ResultSelector reads), or throw;
 * - errors are matched by `error.name` (e.g. `ProbeFailed`) in Retry / Catch;
 * - optional `waitTimeOverrides` for {@link waitStateNames} and `retryIntervalOverrides`.
 *
 * Sources: https://github.com/serverless-operations/serverless-step-functions#readme (intrinsic
 * functions in definitions), https://states-language.net/spec.html.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { parse } from 'yaml';

/** Absolute path of the pipeline definition (YAML, JSONPath ASL). */
export const DEFINITION_PATH: string = fileURLToPath(new URL('./image-factory.asl.yaml', import.meta.url));

/** The serverless service name; Lambda function names are `<service>-<stage>-<function key>`. */
export const SERVICE_NAME = 'golden-image-factory';

/** A function key is the kebab-case handler file name (`probe-test-instance`). */
const FUNCTION_KEY = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** `${source:address}` or `${source:address, fallback}` filling the whole string. */
const WHOLE_VARIABLE = /^\$\{([a-zA-Z]+:[^,}]+)(?:,[^}]*)?\}$/;

/** The same variable inside a longer string. */
const EMBEDDED_VARIABLE = /\$\{([a-zA-Z]+:[^,}]+)(?:,[^}]*)?\}/g;

/** Options of {@link loadDefinition}; every field has a local default. */
export interface LoadOptions {
  /** Region used in placeholder ARNs. Default `us-east-1`. */
  readonly region?: string;
  /** 12-digit account id used in placeholder ARNs. Default `123456789012`. */
  readonly accountId?: string;
  /** Stage used in placeholder function names. Default `local`. */
  readonly stage?: string;
  /** Values for serverless variables, keyed `source:address` (e.g. `param:bakeSubnetIds`). */
  readonly variables?: Readonly<Record<string, unknown>>;
}

/** The raw YAML document, intrinsic functions and variables left as written. */
export function readRawDefinition(path: string = DEFINITION_PATH): Record<string, unknown> {
  // `merge: true` is not needed: the file uses plain anchors/aliases only. JSON round trip
  // removes the sharing of aliased nodes so callers may mutate the result.
  return JSON.parse(JSON.stringify(parse(readFileSync(path, 'utf8')))) as Record<string, unknown>;
}

/**
 * The pipeline definition ready for `new StateMachine(loadDefinition())` (aws-local-stepfunctions).
 * Returns a fresh object on every call.
 */
export function loadDefinition(options: LoadOptions = {}): StateMachineDefinition {
  const resolved = resolveNode(readRawDefinition(), {
    region: options.region ?? 'us-east-1',
    accountId: options.accountId ?? '123456789012',
    stage: options.stage ?? 'local',
    variables: options.variables ?? {},
  });
  return resolved as StateMachineDefinition;
}

/**
 * Maps each Lambda-backed Task state to its serverless function key, read from the raw YAML
 * (`PrepareBuild` → `prepare-build`). BakeImage (a native ECS integration) is not included.
 */
export function lambdaFunctionKeys(path: string = DEFINITION_PATH): Record<string, string> {
  const states = allStates(readRawDefinition(path).States as Record<string, unknown>) as Record<
    string,
    { Type?: string; Resource?: unknown }
  >;
  const keys: Record<string, string> = {};
  for (const [name, state] of Object.entries(states)) {
    const target = getAttTarget(state.Resource);
    if (state.Type === 'Task' && target !== undefined && FUNCTION_KEY.test(target)) keys[name] = target;
  }
  return keys;
}

/**
 * Every state of a `States` object, those of its Map states' `ItemProcessor` (or `Iterator`) and
 * Parallel states' `Branches` included, keyed by name (state names are unique across the
 * definition: aws-local-stepfunctions overrides Tasks and Waits by name at any depth).
 * @throws Error when a nested state repeats a name.
 */
export function allStates(states: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  const visit = (level: Readonly<Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(level)) {
      if (Object.hasOwn(all, name)) throw new Error(`state name ${name} is used twice`);
      all[name] = state;
      const node = state as {
        ItemProcessor?: { States?: object };
        Iterator?: { States?: object };
        Branches?: Array<{ States?: object }>;
      };
      const nested = [node.ItemProcessor ?? node.Iterator, ...(node.Branches ?? [])];
      for (const machine of nested) if (machine?.States) visit(machine.States as Record<string, unknown>);
    }
  };
  visit(states);
  return all;
}

/** Names of every Task state in definition order, nested ones included (all of them must be overridden locally). */
export function taskStateNames(definition: StateMachineDefinition): string[] {
  return Object.entries(allStates(definition.States))
    .filter(([, state]) => (state as { Type?: string }).Type === 'Task')
    .map(([name]) => name);
}

/** Names of every Wait state, nested ones included (set them to 0 ms with `waitTimeOverrides` for fast local runs). */
export function waitStateNames(definition: StateMachineDefinition): string[] {
  return Object.entries(allStates(definition.States))
    .filter(([, state]) => (state as { Type?: string }).Type === 'Wait')
    .map(([name]) => name);
}

/**
 * A bounded poll loop of the pipeline, as the ASL defines it:
 * `entry → [firstWait] → check → choice → (done | exhausted | wait → check …)`.
 */
export interface PollLoop {
  /** The Task state that polls, e.g. `CheckInstanceOnline`. */
  readonly check: string;
  /** The Choice state after it, which ends the loop or goes to {@link wait}. */
  readonly choice: string;
  /** The Wait state between two checks (the Choice's `Default`) and its `Seconds`. */
  readonly wait: string;
  readonly waitSeconds: number;
  /** The state whose `Next` enters the loop (e.g. `LaunchTestInstance`). */
  readonly entry: string;
  /**
   * The Wait state entered before the first check and its `Seconds`: a Wait of its own
   * (`WaitForInstanceBoot`), the loop's {@link wait} itself when the entry goes straight to it,
   * or none (`undefined`, 0 s) when the entry goes straight to the check.
   */
  readonly firstWait: string | undefined;
  readonly firstWaitSeconds: number;
  /** The attempt counter the Choice tests (`$.online.attempt`) and its bound (`NumericGreaterThanEquals`). */
  readonly attemptPath: string;
  readonly maxAttempts: number;
}

type RawState = Record<string, unknown> & { Type?: string; Next?: string; Seconds?: unknown };

/** The single `NumericGreaterThanEquals` rule on an `….attempt` variable inside a Choice's rules. */
function attemptBound(rules: unknown): { attemptPath: string; maxAttempts: number } | undefined {
  const found: { attemptPath: string; maxAttempts: number }[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node !== null && typeof node === 'object') {
      const rule = node as Record<string, unknown>;
      if (
        typeof rule.Variable === 'string' &&
        rule.Variable.endsWith('.attempt') &&
        typeof rule.NumericGreaterThanEquals === 'number'
      ) {
        found.push({ attemptPath: rule.Variable, maxAttempts: rule.NumericGreaterThanEquals });
      }
      Object.values(rule).forEach(visit);
    }
  };
  visit(rules);
  return found.length === 1 ? found[0] : undefined;
}

/** `Seconds` of a Wait state. @throws Error when the state is no Wait with a fixed `Seconds`. */
function waitSeconds(states: Record<string, RawState>, name: string): number {
  const state = states[name];
  if (state?.Type !== 'Wait' || typeof state.Seconds !== 'number')
    throw new Error(`${name} is not a Wait state with a fixed Seconds`);
  return state.Seconds;
}

/**
 * Every bounded poll loop of the definition, keyed by its check state, read from the ASL: the
 * one place the poll timings and bounds are written. A loop is a Choice with an attempt bound
 * whose `Default` is a Wait state leading back to the Task that leads to the Choice.
 * @throws Error when such a Choice does not have that shape, or no single state enters the loop.
 */
export function pollLoops(path: string = DEFINITION_PATH): Record<string, PollLoop> {
  const states = readRawDefinition(path).States as Record<string, RawState>;
  const loops: Record<string, PollLoop> = {};
  for (const [choice, state] of Object.entries(states)) {
    const bound = state.Type === 'Choice' ? attemptBound(state.Choices) : undefined;
    if (bound === undefined) continue;
    const wait = String(state.Default);
    const check = String(states[wait]?.Next);
    if (states[check]?.Type !== 'Task' || states[check]?.Next !== choice)
      throw new Error(`poll ${choice}: Default ${wait} does not lead back through a Task to ${choice}`);
    // States outside the loop whose Next is `target`.
    const into = (target: string) =>
      Object.entries(states)
        .filter(([name, other]) => other.Next === target && name !== wait && name !== choice)
        .map(([name]) => name);
    const [toCheck, toWait] = [into(check), into(wait)];
    if (toCheck.length + toWait.length !== 1)
      throw new Error(`poll ${choice}: no single state enters the loop`);
    let entry = toWait[0] ?? (toCheck[0] as string);
    let firstWait: string | undefined = toWait.length === 1 ? wait : undefined;
    if (states[entry]?.Type === 'Wait') {
      const before = into(entry);
      if (before.length !== 1) throw new Error(`poll ${choice}: no single state enters ${entry}`);
      firstWait = entry;
      entry = before[0] as string;
    }
    loops[check] = {
      check,
      choice,
      wait,
      waitSeconds: waitSeconds(states, wait),
      entry,
      firstWait,
      firstWaitSeconds: firstWait === undefined ? 0 : waitSeconds(states, firstWait),
      ...bound,
    };
  }
  return loops;
}

interface ResolveContext {
  readonly region: string;
  readonly accountId: string;
  readonly stage: string;
  readonly variables: Readonly<Record<string, unknown>>;
}

function resolveNode(node: unknown, ctx: ResolveContext): unknown {
  if (typeof node === 'string') return resolveString(node, ctx);
  if (Array.isArray(node)) return node.map((item) => resolveNode(item, ctx));
  if (node === null || typeof node !== 'object') return node;
  const intrinsic = resolveIntrinsic(node as Record<string, unknown>, ctx);
  if (intrinsic !== undefined) return intrinsic;
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolveNode(value, ctx)]));
}

function resolveString(value: string, ctx: ResolveContext): unknown {
  const whole = WHOLE_VARIABLE.exec(value)?.[1]?.trim();
  if (whole !== undefined) return variableValue(whole, ctx);
  return value.replace(EMBEDDED_VARIABLE, (_match, name: string) => String(variableValue(name.trim(), ctx)));
}

function variableValue(name: string, ctx: ResolveContext): unknown {
  return Object.hasOwn(ctx.variables, name) ? ctx.variables[name] : `local:${name}`;
}

function resolveIntrinsic(node: Record<string, unknown>, ctx: ResolveContext): string | undefined {
  const keys = Object.keys(node);
  if (keys.length !== 1) return undefined;
  const [key] = keys as [string];
  if (key === 'Ref') return `local:${String(node.Ref)}`;
  if (key === 'Fn::GetAtt') {
    const target = getAttTarget(node);
    const attribute = Array.isArray(node[key]) ? String((node[key] as unknown[])[1]) : '';
    if (target !== undefined && FUNCTION_KEY.test(target) && attribute === 'Arn') {
      return `arn:aws:lambda:${ctx.region}:${ctx.accountId}:function:${SERVICE_NAME}-${ctx.stage}-${target}`;
    }
    return `local:${target ?? 'unknown'}.${attribute}`;
  }
  if (key.startsWith('Fn::')) return `local:${key}`;
  return undefined;
}

function getAttTarget(resource: unknown): string | undefined {
  if (resource === null || typeof resource !== 'object') return undefined;
  const getAtt = (resource as Record<string, unknown>)['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}
