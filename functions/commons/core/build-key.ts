/**
 * Build id and deterministic Step Functions execution name. Pure (hashing only).
 *
 * The same (pipeline, architecture, channel, source AMI, commit, attempt) always yields the same execution name,
 * so a trigger that fires twice (webhook redelivery, watcher re-run) gets `ExecutionAlreadyExists`
 * instead of a second bake. Execution names must be 1–80 characters from `[A-Za-z0-9-_]` and
 * "must be unique for your AWS account, region, and state machine for 90 days"
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html#StepFunctions-StartExecution-request-name):
 * a failed build is rebuilt by starting it again with the next `attempt`, which changes the name.
 */
import { createHash } from 'node:crypto';
import { type Architecture, DEFAULT_ARCHITECTURE } from './architectures.js';

export interface BuildKeyInput {
  pipeline: string;
  /** Channel the build is promoted to: two channels of one pipeline are two builds. */
  channel: string;
  /**
   * Architecture built (default x86_64): two architectures of one pipeline are two builds. An
   * x86_64 build's name and hash are those it had before architectures existed.
   */
  architecture?: Architecture | undefined;
  /** Source AMI id (or local base image id). */
  sourceImageId: string;
  /** Git commit (hex); absent for builds not tied to a commit (e.g. base image updates of HEAD). */
  commit?: string | undefined;
  /** Attempt number, 1 (the default) for the first build; a rebuild of a failed build uses 2, 3, … */
  attempt?: number | undefined;
}

/** Maximum length of a Step Functions execution name. */
export const EXECUTION_NAME_MAX_LENGTH = 80;
/** The attempt of a build started by a trigger. */
export const FIRST_ATTEMPT = 1;
const NO_COMMIT = 'head';
/** Hex characters of the build id's hash part. */
const BUILD_ID_HASH_LENGTH = 12;

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/** The architecture part of a key: none for x86_64 (names from before architectures stay). */
const architecturePart = (input: BuildKeyInput): string[] =>
  (input.architecture ?? DEFAULT_ARCHITECTURE) === DEFAULT_ARCHITECTURE ? [] : [input.architecture as string];

const digest = (input: BuildKeyInput): string =>
  sha256(
    JSON.stringify([
      input.pipeline,
      input.channel,
      input.sourceImageId,
      input.commit ?? NO_COMMIT,
      input.attempt ?? FIRST_ATTEMPT,
      ...architecturePart(input),
    ]),
  );

const sanitize = (value: string): string => value.replace(/[^A-Za-z0-9-_]/g, '-');

/** `<pipeline>` part of a build id (at most 50 characters, `[A-Za-z0-9-_]`). */
const buildIdPrefix = (pipeline: string): string => sanitize(pipeline).slice(0, 50);

/**
 * Build id: `<pipeline>-<12 hex>`, the hash of the execution's ARN. Used as the
 * `factory:build-id` tag value of everything a build creates.
 *
 * One execution, one build id: a rebuild (a new execution) never finds the resources of the
 * failed one, and two stages (two state machines, so two execution ARNs) never share a build id
 * even when they build the same commit. {@link isBuildOfExecution} checks a resource's build id
 * against an execution of this stage, which is how the sweeper proves a leftover is its own.
 * @param executionArn the execution's ARN (`$$.Execution.Id`), or any id unique to the build
 *   where there is no execution (unit tests).
 */
export const buildId = (input: { pipeline: string; executionArn: string }): string =>
  `${buildIdPrefix(input.pipeline)}-${sha256(input.executionArn).slice(0, BUILD_ID_HASH_LENGTH)}`;

/** True when `id` is the build id of `pipeline`'s execution `executionArn` ({@link buildId}). */
export const isBuildOfExecution = (id: string, pipeline: string, executionArn: string): boolean =>
  id === buildId({ pipeline, executionArn });

/**
 * Execution name: `<pipeline>[-<architecture>]-<channel>-<source ami>-<commit 7|head>[-r<attempt>]-<8 hex>`
 * (the architecture only when it is not x86_64, e.g. `web-arm64-stable-…`),
 * readable in the console, never longer than 80 characters, only `[A-Za-z0-9-_]`. The hash suffix
 * always survives truncation, so distinct inputs give distinct names (up to a 2^-32 collision
 * chance). The first attempt has no `-r` part.
 */
export const executionName = (input: BuildKeyInput): string => {
  const hash = digest(input).slice(0, 8);
  const attempt = input.attempt ?? FIRST_ATTEMPT;
  const readable = sanitize(
    [
      input.pipeline,
      ...architecturePart(input),
      input.channel,
      input.sourceImageId,
      input.commit ? input.commit.slice(0, 7) : NO_COMMIT,
      ...(attempt === FIRST_ATTEMPT ? [] : [`r${attempt}`]),
    ].join('-'),
  );
  return `${readable.slice(0, EXECUTION_NAME_MAX_LENGTH - hash.length - 1)}-${hash}`;
};

/**
 * The execution ARN of `name` in `stateMachineArn`
 * (`arn:<partition>:states:<region>:<account>:execution:<state machine name>:<name>`).
 * @throws Error when `stateMachineArn` is not a state machine ARN.
 */
export const executionArnOf = (stateMachineArn: string, name: string): string => {
  if (!/^arn:[\w-]+:states:[\w-]+:\d{12}:stateMachine:[\w-]+$/.test(stateMachineArn))
    throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
};

/**
 * Idempotency token for launching the test instance of one execution: 64 hex characters (EC2
 * `ClientToken` allows at most 64 ASCII characters). Retrying the task reuses the token, so EC2
 * returns the instance it already launched instead of launching a second one.
 */
export const launchToken = (build: { buildId: string; executionName: string }): string =>
  sha256(`${build.buildId}/${build.executionName}/test-instance`);
