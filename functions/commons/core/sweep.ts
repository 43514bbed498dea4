/**
 * The sweeper's plan: which of the resources a build leaves behind to remove. Pure; no AWS access.
 *
 * A build creates, through Packer (`packer/locals.pkr.hcl`: `run_tags` on the builder instance, its
 * temporary security group and key pair; `tags` on the AMI and its snapshots) and LaunchTestInstance:
 * a builder instance (`factory:role=build-instance`), a temporary security group and key pair
 * (named `packer_<uuid>`, tagged with the same `run_tags`), a candidate AMI
 * (`factory:channel=candidate`) with its snapshots, and a test instance (`factory:role=test-instance`).
 * Every one carries `factory:stage`, `factory:pipeline`, `factory:build-id` and `factory:execution`
 * (the execution's name). The pipeline normally removes them itself; an aborted execution (StopExecution skips every
 * Catch), a Packer killed before its own cleanup, or a failed CleanupAfterFailure leaves them.
 *
 * Rules, in order (the first that applies gives the reason):
 * 1. Ownership. A resource is this stage's only when its `factory:stage` is the stage, its
 *    `factory:pipeline` is one of the stage's pipelines, it has the build id and execution tags, its kind's marks (`factory:role`, the
 *    `packer_` name, `factory:channel=candidate`), and its build id is the one this stage's state
 *    machine gives that execution ({@link isBuildOfExecution}: a hash of the execution ARN, so
 *    another stage's, another state machine's or a hand-tagged resource never matches). Anything
 *    else is *foreign*: it never appears in the plan.
 * 2. Images only (all of them `factory:channel=candidate` by rule 1, so never a promoted one):
 *    `factory:protected=true` → keep (`protected`); named by a parameter, such as a channel pointer
 *    that a half-applied promotion already moved → keep (`referenced`).
 * 3. The build's execution is `RUNNING` or `PENDING_REDRIVE` → keep (`execution-running`); its
 *    status could not be read → keep (`execution-unknown`).
 * 4. Grace. The resource must be at least `graceMinutes` old: its creation time, or for a resource
 *    the backend gives none (security groups) the time its execution stopped. Younger, or undatable
 *    while the execution still exists → keep (`within-grace`). An execution that no longer exists
 *    (Step Functions keeps closed executions 90 days) ended long ago.
 * 5. Otherwise → remove (`leftover`).
 */
import { executionArnOf, isBuildOfExecution } from './build-key.js';
import { byId, CANDIDATE_CHANNEL, TAG, TEST_INSTANCE_ROLE } from './tags.js';

/** `factory:role` value of Packer's builder instance and of its temporary security group and key pair (`run_tags`). */
export const BUILD_INSTANCE_ROLE = 'build-instance';
/** Name prefix of Packer's temporary security groups and key pairs (packer-plugin-amazon `packer_<uuid>`). */
export const PACKER_TEMPORARY_PREFIX = 'packer_';

/** Kinds of leftovers, in the order they are removed (instances before their security group). */
export const LEFTOVER_KINDS = [
  'test-instance',
  'build-instance',
  'image',
  'security-group',
  'key-pair',
] as const;
export type LeftoverKind = (typeof LEFTOVER_KINDS)[number];

/** A resource a build may have left behind, as the backend lists it. */
export interface Leftover {
  kind: LeftoverKind;
  /** Instance id, image id, security group id, or key pair name. */
  id: string;
  /** Name tag, image name, group name or key name (for the report). */
  name: string;
  tags: Record<string, string>;
  /** ISO 8601 creation time (instance launch, image creation, key pair creation); absent for security groups. */
  createdAt?: string | undefined;
  /** Snapshots behind an image. */
  snapshotIds?: readonly string[] | undefined;
}

/** `DescribeExecution` status, or `NOT_FOUND` when the execution does not exist (any more). */
export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE'
  | 'NOT_FOUND';

/** What the sweeper knows of one execution; `status: 'UNKNOWN'` when it could not be read. */
export interface ExecutionFacts {
  status: ExecutionStatus | 'UNKNOWN';
  /** ISO 8601 time it stopped, when it has. */
  stoppedAt?: string | undefined;
}

/** The stage the sweeper works for. */
export interface SweepScope {
  /** This stage (`factory:stage` value): any other stage's resource is foreign. */
  stage: string;
  /** This stage's state machine ARN (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`). */
  stateMachineArn: string;
  /** The stage's pipelines (`factory:pipeline` values it may touch). */
  pipelines: readonly string[];
}

/** A leftover proven to be this stage's, with the execution that made it. */
export interface OwnedLeftover extends Leftover {
  pipeline: string;
  buildId: string;
  executionArn: string;
}

export type SweepReason =
  | 'protected'
  | 'referenced'
  | 'execution-running'
  | 'execution-unknown'
  | 'within-grace'
  | 'leftover';

export interface SweepDecision {
  resource: OwnedLeftover;
  action: 'remove' | 'keep';
  reason: SweepReason;
}

export interface SweepInput {
  /** This stage's resources ({@link ownedLeftovers}). */
  resources: readonly OwnedLeftover[];
  /** Facts per execution ARN; an ARN missing here counts as `UNKNOWN`. */
  executions: ReadonlyMap<string, ExecutionFacts>;
  /** Image ids named by a parameter (channel pointers): never removed. */
  referencedImageIds?: readonly string[];
  now: Date;
  /** Minutes a resource must exist (or its execution have stopped) before it may be removed. */
  graceMinutes: number;
}

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const MINUTE_MS = 60_000;
const NOT_RUNNING: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'NOT_FOUND',
]);

/** The kind's own marks: role tag, Packer's name prefix, candidate channel. */
const hasKindMarks = (resource: Leftover): boolean => {
  switch (resource.kind) {
    case 'test-instance':
      return resource.tags[TAG.role] === TEST_INSTANCE_ROLE;
    case 'build-instance':
      return resource.tags[TAG.role] === BUILD_INSTANCE_ROLE;
    case 'security-group':
    case 'key-pair':
      return (
        resource.tags[TAG.role] === BUILD_INSTANCE_ROLE && resource.name.startsWith(PACKER_TEMPORARY_PREFIX)
      );
    case 'image':
      return resource.tags[TAG.channel] === CANDIDATE_CHANNEL;
  }
};

/**
 * The resources provably this stage's (rule 1), each with its execution ARN; the rest are dropped.
 * @throws Error when `scope.stateMachineArn` is not a state machine ARN (a configuration error),
 *   as soon as one resource has the tags to check.
 */
export const ownedLeftovers = (resources: readonly Leftover[], scope: SweepScope): OwnedLeftover[] => {
  const pipelines = new Set(scope.pipelines);
  return resources.flatMap((resource): OwnedLeftover[] => {
    const pipeline = resource.tags[TAG.pipeline];
    const buildId = resource.tags[TAG.buildId];
    const execution = resource.tags[TAG.execution];
    if (resource.tags[TAG.stage] !== scope.stage) return [];
    if (pipeline === undefined || !pipelines.has(pipeline) || !buildId || !execution) return [];
    if (!EXECUTION_NAME.test(execution) || !hasKindMarks(resource)) return [];
    const executionArn = executionArnOf(scope.stateMachineArn, execution);
    if (!isBuildOfExecution(buildId, pipeline, executionArn)) return [];
    return [{ ...resource, pipeline, buildId, executionArn }];
  });
};

/** The distinct execution ARNs of `resources`, sorted. */
export const executionsOf = (resources: readonly OwnedLeftover[]): string[] =>
  [...new Set(resources.map((resource) => resource.executionArn))].sort(byId);

/** Milliseconds since the instant the grace period counts from, or undefined when it cannot be told. */
const settledFor = (resource: Leftover, execution: ExecutionFacts, now: Date): number | undefined => {
  const from = resource.createdAt ?? execution.stoppedAt;
  if (from === undefined) return undefined;
  const ms = Date.parse(from);
  return Number.isNaN(ms) ? undefined : now.getTime() - ms;
};

const decide = (resource: OwnedLeftover, input: SweepInput, referenced: ReadonlySet<string>) => {
  const keep = (reason: SweepReason): SweepDecision => ({ resource, action: 'keep', reason });
  if (resource.kind === 'image') {
    if (resource.tags[TAG.protected] === 'true') return keep('protected');
    if (referenced.has(resource.id)) return keep('referenced');
  }
  const execution = input.executions.get(resource.executionArn) ?? { status: 'UNKNOWN' };
  if (execution.status === 'UNKNOWN') return keep('execution-unknown');
  if (!NOT_RUNNING.has(execution.status)) return keep('execution-running');
  const age = settledFor(resource, execution, input.now);
  const gone = execution.status === 'NOT_FOUND';
  if (age === undefined ? !gone : age < input.graceMinutes * MINUTE_MS) return keep('within-grace');
  return { resource, action: 'remove', reason: 'leftover' } satisfies SweepDecision;
};

/**
 * Plan the sweep of this stage's resources (rules 2–5 of the module comment).
 * @returns one decision per resource, in removal order ({@link LEFTOVER_KINDS}), then by id.
 * @throws RangeError when `graceMinutes` is negative or not a number.
 */
export const planSweep = (input: SweepInput): SweepDecision[] => {
  if (!Number.isFinite(input.graceMinutes) || input.graceMinutes < 0) {
    throw new RangeError(`graceMinutes must be a number ≥ 0, got ${input.graceMinutes}`);
  }
  const referenced = new Set(input.referencedImageIds ?? []);
  const order = (kind: LeftoverKind) => LEFTOVER_KINDS.indexOf(kind);
  return [...input.resources]
    .sort((a, b) => order(a.kind) - order(b.kind) || byId(a.id, b.id))
    .map((resource) => decide(resource, input, referenced));
};
