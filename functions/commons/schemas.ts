/**
 * zod schemas for the manual execution input, the execution state document (`docs/design.md`,
 * "Execution state") and every task input. Task inputs are the whole state document, so their
 * schemas are loose objects: they name what the step reads and let the rest pass through.
 */
import * as z from 'zod';
import { BASE_IMAGE_NAMES } from './core/base-images.js';
import { IMAGE_DEFINITION_NAMES } from './core/image-definitions.js';
import { isReservedChannel, PREVIOUS_CHANNEL_PREFIX, RESERVED_CHANNELS } from './core/tags.js';
import { InvalidInput } from './errors.js';

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

export const PipelineName = z.string({ error: 'pipeline is required: a name such as "web"' }).regex(NAME, {
  error: 'pipeline must be 1-32 characters: lowercase letters, digits, "-", starting with a letter',
});

/**
 * A deployment stage (serverless `--stage`), the `factory:stage` tag value: 1-64 letters, digits
 * and '-'. The Packer variable `stage` (`packer/variables.pkr.hcl`) repeats this pattern, pinned
 * by `tests/unit/core/tags.test.ts`.
 */
export const STAGE_NAME_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
export const StageName = z.string({ error: 'stage is required' }).regex(STAGE_NAME_PATTERN, {
  error: 'stage must be 1-64 characters: letters, digits and "-"',
});

export const ChannelName = z
  .string({ error: 'channel must be a string such as "stable"' })
  .regex(NAME, {
    error: 'channel must be 1-32 characters: lowercase letters, digits, "-", starting with a letter',
  })
  .refine((value) => !isReservedChannel(value), {
    error: `channel must not be ${RESERVED_CHANNELS.map((name) => `"${name}"`).join(', ')} or start with "${PREVIOUS_CHANNEL_PREFIX}" (reserved tag values)`,
  });

export const BaseImageNameSchema = z.enum(BASE_IMAGE_NAMES as [string, ...string[]], {
  error: `baseImage is required and must be one of: ${BASE_IMAGE_NAMES.join(', ')}`,
});

export const ImageDefinitionNameSchema = z.enum(IMAGE_DEFINITION_NAMES as [string, ...string[]], {
  error: (issue) =>
    `imageDefinition must be one of: ${IMAGE_DEFINITION_NAMES.join(', ')}${typeof issue.input === 'string' ? ` (got "${issue.input}")` : ''}`,
});

/** An image id: `ami-` + 8 or 17 hex on AWS; the local backend uses `local-…` ids. */
export const ImageId = z
  .string({ error: 'an image id is required' })
  .regex(/^(ami-[0-9a-f]{8}([0-9a-f]{9})?|local-[A-Za-z0-9._-]{1,120})$/, {
    error: 'must be an image id such as "ami-0123456789abcdef0" (or "local-…" on the local backend)',
  });

export const InstanceId = z.string().regex(/^(i-[0-9a-f]{8}([0-9a-f]{9})?|local-[A-Za-z0-9._-]{1,120})$/, {
  error: 'must be an instance id such as "i-0123456789abcdef0"',
});

export const CommitSha = z
  .string()
  .regex(/^[0-9a-f]{7,40}$/, { error: 'commit must be a git commit id: 7-40 lowercase hex characters' });

/** A full git commit id: what a build bakes and records (the runner checks out exactly this). */
export const FullCommitSha = z
  .string()
  .regex(/^[0-9a-f]{40}$/, { error: 'commit must be a full git commit id: 40 lowercase hex characters' });

/**
 * A repository the runner can fetch: an HTTPS clone URL without credentials
 * (`https://github.com/<owner>/<repo>.git`) or a CodeCommit repository in git-remote-codecommit
 * form (`codecommit::<region>://<name>`, https://github.com/aws/git-remote-codecommit#readme).
 */
export const RepositoryUrl = z
  .string()
  .max(512)
  .regex(/^(https:\/\/[^\s@/]+\/[^\s@]+|codecommit::[a-z]{2}(-[a-z]+)+-\d:\/\/[\w.-]{1,100})$/, {
    error:
      'repository must be an https:// clone URL without credentials or codecommit::<region>://<repository name>',
  });

/**
 * Attempt number of a build: 1 for the first, 2, 3, … to rebuild a failed build. It is part of
 * the execution name (`core/build-key.ts`), which Step Functions keeps unique for 90 days.
 */
export const Attempt = z
  .number({ error: 'attempt must be a whole number from 1 to 99' })
  .int({ error: 'attempt must be a whole number from 1 to 99' })
  .min(1, { error: 'attempt must be a whole number from 1 to 99' })
  .max(99, { error: 'attempt must be a whole number from 1 to 99' });

export const Trigger = z.enum(['manual', 'base-image', 'git-push'], {
  error: 'trigger must be one of: manual, base-image, git-push',
});

/**
 * The parent of a layered build: a pipeline and the channel whose current image it bakes from
 * (`channel` defaults to `stable`).
 */
export const ParentSource = z.strictObject(
  {
    pipeline: PipelineName,
    channel: ChannelName.default('stable'),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? undefined : 'parent must be { pipeline, channel }',
  },
);
export type ParentSource = z.infer<typeof ParentSource>;

/**
 * The execution input, as documented for users who start an execution by hand:
 *
 * ```json
 * { "pipeline": "web", "baseImage": "ubuntu-24.04",
 *   "channel": "stable", "sourceImageId": "ami-0123456789abcdef0", "commit": "<git sha>" }
 * ```
 * `pipeline` is required, and either `baseImage` or `parent`; `channel` defaults to `stable`, `trigger` to `manual`,
 * `attempt` to 1 (raise it to rebuild a failed build: it changes the execution name);
 * `imageDefinition` (what to bake) to the definition named like the pipeline (PrepareBuild checks);
 * without `sourceImageId` the current public AMI of the base image is used. On AWS the source the
 * definition is baked from is `repository` at `commit`; either defaults (the configured repository,
 * the head of the configured branch), see `steps/prepare-build.ts`. Unknown keys are
 * rejected so that a typo (`baseimage`) fails fast instead of being ignored.
 *
 * A layered build names `parent` instead of a source: `{ "pipeline": "web", "parent":
 * { "pipeline": "base", "channel": "stable" } }` bakes from the image the parent pipeline's channel
 * names and inherits its base image (`baseImage`, when given, must be the same). `parent` excludes
 * `sourceImageId` and must name another pipeline.
 */
export const ExecutionInput = z
  .strictObject(
    {
      pipeline: PipelineName,
      channel: ChannelName.default('stable'),
      trigger: Trigger.default('manual'),
      baseImage: BaseImageNameSchema.optional(),
      /** Layered build: bake from the image this pipeline's channel names (`core/layering.ts`). */
      parent: ParentSource.optional(),
      imageDefinition: ImageDefinitionNameSchema.optional(),
      sourceImageId: ImageId.optional(),
      commit: CommitSha.optional(),
      repository: RepositoryUrl.optional(),
      attempt: Attempt.optional(),
      /**
       * Manual executions only: `true` makes this execution's ApplyRetention plan and report without
       * deregistering (`false`: deregister even where `RETENTION_DRY_RUN` is `true`). It stays at
       * `$.retentionDryRun` of the state document, where `ApplyRetentionInput` reads it.
       */
      retentionDryRun: z.boolean({ error: 'retentionDryRun must be true or false' }).optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys' ? undefined : 'the execution input must be a JSON object',
    },
  )
  // Also reported next to other problems (`when`), unless baseImage or parent has its own.
  .refine((input) => input.parent !== undefined || input.baseImage !== undefined, {
    path: ['baseImage'],
    message: `baseImage is required and must be one of: ${BASE_IMAGE_NAMES.join(', ')} (or name a parent pipeline in parent)`,
    when: (payload) =>
      !payload.issues.some((issue) => issue.path?.[0] === 'baseImage' || issue.path?.[0] === 'parent'),
  })
  .superRefine((input, context) => {
    if (input.parent === undefined) return;
    if (input.sourceImageId !== undefined)
      context.addIssue({
        code: 'custom',
        path: ['sourceImageId'],
        message:
          'sourceImageId and parent exclude each other: a layered build bakes from the image the parent channel names',
      });
    if (input.parent.pipeline === input.pipeline)
      context.addIssue({
        code: 'custom',
        path: ['parent', 'pipeline'],
        message: `pipeline ${input.pipeline} cannot be its own parent`,
      });
  });
export type ExecutionInput = z.infer<typeof ExecutionInput>;

/** `$$.Execution` from the context object (passed by the ASL as `execution.$`). */
export const ExecutionContext = z.looseObject({
  Id: z.string().min(1),
  Name: z.string().min(1).max(80),
  StartTime: z.iso.datetime({ offset: true }),
});

/**
 * PrepareBuild input: either the execution input itself, or
 * `{ "input.$": "$", "execution.$": "$$.Execution" }` so that the build records the real
 * execution name, ARN and start time.
 */
export const PrepareBuildInput = z.preprocess(
  (value) =>
    typeof value === 'object' && value !== null && 'input' in value && 'execution' in value
      ? value
      : { input: value },
  z.object({ input: ExecutionInput, execution: ExecutionContext.optional() }),
);
export type PrepareBuildInput = z.infer<typeof PrepareBuildInput>;

export const Build = z.object({
  buildId: z.string().min(1),
  pipeline: PipelineName,
  channel: ChannelName,
  trigger: Trigger,
  baseImage: BaseImageNameSchema,
  /** What is baked: playbook `ansible/images/<name>.yml`, checks `probe/checks.d/<name>/`. */
  imageDefinition: ImageDefinitionNameSchema,
  sourceImageId: ImageId,
  sourceImageName: z.string(),
  /**
   * Layered build: the parent pipeline's channel it was baked from and the image that channel named
   * (`sourceImageId` is that image; only the image definition's own roles run on it).
   */
  parent: z.object({ pipeline: PipelineName, channel: ChannelName, imageId: ImageId }).optional(),
  commit: CommitSha.optional(),
  /** Where the runner fetches the image definition (any git URL; triggers give RepositoryUrl forms). */
  repository: z.string().min(1).optional(),
  executionName: z.string().min(1).max(80),
  /** The requested attempt (1 when the input named none). */
  attempt: Attempt.optional(),
  executionArn: z.string().optional(),
  startedAt: z.iso.datetime({ offset: true }),
  /** Seconds the probe suite may run on the test instance. */
  probeTimeoutSeconds: z.number().int().positive(),
  incidentResponsePlanArn: z.string().optional(),
  /** Where failures of this build are raised (`OpenIncident`); absent: nowhere but Slack. */
  alerting: z.enum(['incident-manager', 'opscenter']).optional(),
  /**
   * Where the build stands for monotonic promotion (`core/promotion-order.ts`): its source AMI's
   * creation time, then the pipeline's build sequence. PrepareBuild sets it; PromoteImage needs it.
   */
  order: z
    .object({ sourceCreatedAt: z.iso.datetime({ offset: true }), sequence: z.number().int().positive() })
    .optional(),
});
export type Build = z.infer<typeof Build>;

export const Candidate = z.object({
  imageId: ImageId,
  name: z.string(),
  createdAt: z.string(),
  snapshotIds: z.array(z.string()),
});
export type Candidate = z.infer<typeof Candidate>;

export const TestInstance = z.object({ instanceId: InstanceId });
export const Online = z.object({ online: z.boolean(), attempt: z.number().int().nonnegative() });
export const Probe = z.object({ commandId: z.string().min(1), instanceId: InstanceId });
export const ProbeCheckSchema = z.object({ name: z.string(), ok: z.boolean(), detail: z.string() });
export const ProbeResult = z.object({
  status: z.enum(['Pending', 'InProgress', 'Success', 'Failed', 'TimedOut']),
  attempt: z.number().int().nonnegative(),
  checks: z.array(ProbeCheckSchema),
  passed: z.boolean(),
  failed: z.array(z.string()),
  summary: z.string().optional(),
});
export type ProbeResult = z.infer<typeof ProbeResult>;

export const Promotion = z.object({
  /**
   * `promoted`: the channel now names this build's image. `superseded`: a build at least as new
   * is current, so the pointer and tags were left as they were (`imageId` is this build's
   * candidate, `currentImageId` the image the channel still names); reported, not a failure.
   */
  outcome: z.enum(['promoted', 'superseded']).default('promoted'),
  channel: ChannelName,
  imageId: ImageId,
  previousImageId: z.string().nullable(),
  /** The image the channel names after this step. */
  currentImageId: z.string().optional(),
  reason: z.string().optional(),
  parameterName: z.string(),
  parameterVersion: z.number().int(),
});
export type Promotion = z.infer<typeof Promotion>;

export const RetentionOutcome = z.object({
  imageId: z.string(),
  action: z.enum(['deregister', 'keep']),
  reason: z.string(),
  /**
   * `deregistered`; `gone` (already deregistered: counts as done); `kept`; `planned` (dry run);
   * `failed` (retried by the next run); `deferred` (not attempted: time budget spent).
   */
  outcome: z.enum(['deregistered', 'gone', 'kept', 'planned', 'failed', 'deferred']),
  snapshots: z.array(
    z.object({ snapshotId: z.string(), outcome: z.string(), detail: z.string().optional() }),
  ),
  error: z.string().optional(),
});
export const Retention = z.object({
  dryRun: z.boolean(),
  /** `partial` when something is left for the next run (failed, deferred, or retention itself failed). */
  outcome: z.enum(['complete', 'partial']).optional(),
  /** Images per outcome, over every image in scope (the list below may be shortened). */
  counts: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** Per-image outcomes, newest first; at most `MAX_REPORTED_OUTCOMES`, the most useful first. */
  outcomes: z.array(RetentionOutcome),
  /** Outcomes left out of `outcomes` to keep the state small. */
  omitted: z.number().int().nonnegative().optional(),
  warnings: z.array(z.string()).optional(),
  /** Set by the ASL when the ApplyRetention task failed as a whole (`$.retentionError`). */
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
export type Retention = z.infer<typeof Retention>;

/** `$.error` as written by a Catch with `ResultPath: $.error`. */
export const CaughtError = z.object({ Error: z.string(), Cause: z.string().optional() });
export type CaughtError = z.infer<typeof CaughtError>;

// ---- Task inputs (the state document; only the read parts are declared) ----

export const FindCandidateImageInput = z.looseObject({ build: Build });
export const LaunchTestInstanceInput = z.looseObject({ build: Build, candidate: Candidate });
export const CheckInstanceOnlineInput = z.looseObject({
  build: Build,
  testInstance: TestInstance,
  online: Online.optional(),
});
export const ProbeTestInstanceInput = z.looseObject({ build: Build, testInstance: TestInstance });
export const CheckProbeResultInput = z.looseObject({
  build: Build,
  probe: Probe,
  probeResult: ProbeResult.optional(),
});
export const TerminateTestInstanceInput = z.looseObject({ build: Build, testInstance: TestInstance });
export const PromoteImageInput = z.looseObject({
  build: Build,
  candidate: Candidate,
  probeResult: ProbeResult.optional(),
});
/** `$.promotionLease` as AcquirePromotionLease returns it. */
export const PromotionLeaseSchema = z.object({
  key: z.string().min(1),
  holder: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }),
});
export const AcquirePromotionLeaseInput = z.looseObject({ build: Build });
export const ReleasePromotionLeaseInput = z.looseObject({ build: Build });
export const ApplyRetentionInput = z.looseObject({
  build: Build,
  promotion: Promotion.optional(),
  /** Per-execution override of the configured dry-run mode (`ExecutionInput.retentionDryRun`). */
  retentionDryRun: z.boolean().optional(),
});
export const CleanupAfterFailureInput = z.looseObject({
  build: Build.optional(),
  candidate: Candidate.optional(),
  testInstance: TestInstance.optional(),
  /** TerminateTestInstance's result: present once the build reached its promotion. */
  termination: z.unknown().optional(),
  error: CaughtError.optional(),
  promotionLease: PromotionLeaseSchema.optional(),
});
export const NotifySuccessInput = z.looseObject({
  build: Build,
  candidate: Candidate,
  probeResult: ProbeResult.optional(),
  promotion: Promotion,
  retention: Retention.optional(),
});
export const NotifyFailureInput = z.looseObject({
  pipeline: z.string().optional(),
  build: Build.optional(),
  error: CaughtError.optional(),
  failedState: z.string().optional(),
  candidate: Candidate.optional(),
  probeResult: ProbeResult.optional(),
});
export const OpenIncidentInput = z.looseObject({
  build: Build.extend({ alerting: z.enum(['incident-manager', 'opscenter']) }),
  error: CaughtError.optional(),
});
export const RollbackChannelInput = z.strictObject({
  pipeline: PipelineName,
  channel: ChannelName.default('stable'),
  /** Roll back to this image; default: the channel's previous image. */
  imageId: ImageId.optional(),
});
export type RollbackChannelInput = z.infer<typeof RollbackChannelInput>;

/**
 * What starts `sweep-leftovers`: its schedule (EventBridge `Scheduled Event`), the rule for this
 * state machine's executions that stopped without succeeding (`Step Functions Execution Status
 * Change`, https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html: `detail` carries
 * `executionArn`, `stateMachineArn`, `status`, …), or an operator's `{ "dryRun": true }`.
 */
export const SweepLeftoversInput = z.union([
  z.strictObject({
    /** Report what would be removed, remove nothing (overrides `SWEEPER_DRY_RUN` for this run). */
    dryRun: z.boolean({ error: 'dryRun must be true or false' }).optional(),
  }),
  z.looseObject({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') }),
  z.looseObject({
    source: z.literal('aws.states'),
    'detail-type': z.literal('Step Functions Execution Status Change'),
    detail: z.looseObject({
      executionArn: z.string().min(1),
      stateMachineArn: z.string().min(1),
      status: z.enum(['FAILED', 'ABORTED', 'TIMED_OUT']),
    }),
  }),
]);
export type SweepLeftoversInput = z.infer<typeof SweepLeftoversInput>;

/** Standard Schema issue, as carried by Powertools' `ParseError.cause`. */
interface Issue {
  message: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined;
}

/** Render issues as `path: message; …` for an `InvalidInput` message. */
export const formatIssues = (issues: readonly Issue[]): string =>
  issues
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((part) => (typeof part === 'object' && part !== null && 'key' in part ? part.key : part))
        .map(String)
        .join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');

/** Result of the Powertools parser middleware with `safeParse: true`. */
export type SafeParsed<T> =
  | { success: true; data: T }
  | { success: false; error: Error; originalEvent?: unknown };

/**
 * Unwrap a Powertools safe-parse result (parser middleware with `safeParse: true`).
 * @throws InvalidInput listing what is wrong and what is expected.
 */
export const requireValid = <T>(result: SafeParsed<T>): T => {
  if (result.success) return result.data;
  const cause = result.error.cause;
  const detail = Array.isArray(cause) ? formatIssues(cause as Issue[]) : result.error.message;
  throw new InvalidInput(`invalid input: ${detail}`, { cause: result.error });
};

/**
 * Parse a value with a schema outside the middleware (e.g. a JSON body).
 * @throws InvalidInput listing what is wrong and what is expected.
 */
export const parseOrThrow = <S extends z.ZodType>(schema: S, value: unknown, what = 'input'): z.output<S> => {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidInput(`invalid ${what}: ${formatIssues(result.error.issues)}`, { cause: result.error });
};
