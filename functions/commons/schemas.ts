/**
 * zod schemas of the names and ids every input uses, and of the execution state document
 * (`docs/design.md`, "Execution state"): what the steps write under `$.build`, `$.candidate`, … .
 * The execution input is in `execution-input.ts`, each handler's input in `handler-inputs.ts`,
 * and the parse helpers that turn a failed parse into `InvalidInput` in `validation.ts`.
 */
import * as z from 'zod';
import { ARCHITECTURES, isArchitecture } from './core/architectures.js';
import { BASE_IMAGE_NAMES } from './core/base-images.js';
import { ON_REGION_FAILURE } from './core/distribution.js';
import { IMAGE_DEFINITION_NAMES } from './core/image-definitions.js';
import { isReservedChannel, PREVIOUS_CHANNEL_PREFIX, RESERVED_CHANNELS } from './core/tags.js';

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
  })
  // An arm64 track's pointers live under <prefix>/<pipeline>/arm64/ (core/architectures.ts).
  .refine((value) => !isArchitecture(value), {
    error: `channel must not be an architecture name (${ARCHITECTURES.join(', ')}): those name a pipeline's architecture tracks`,
  });

/** A CPU architecture a pipeline builds (`core/architectures.ts`). */
export const ArchitectureSchema = z.enum(ARCHITECTURES, {
  error: `architecture must be one of: ${ARCHITECTURES.join(', ')}`,
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

/** One region of a build's distribution (an item of the `DistributeImage` Map state). */
export const RegionTargetSchema = z.object({
  region: z.string().min(1),
  home: z.boolean(),
  kmsKeyId: z.string().nullable(),
});
export const DistributionSchema = z.object({
  regions: z.array(RegionTargetSchema).min(1),
  shareWith: z.object({
    accounts: z.array(z.string()),
    organizations: z.array(z.string()),
    organizationalUnits: z.array(z.string()),
  }),
  onRegionFailure: z.enum(ON_REGION_FAILURE),
  bakeKmsKeyId: z.string(),
});

/** `$.build.rollout` (`core/rollout.ts` `Rollout`). */
export const RolloutSchema = z.object({
  tag: z.object({ key: z.string().min(1), value: z.string().min(1) }),
  preferences: z.object({
    MinHealthyPercentage: z.number().int().min(0).max(100).optional(),
    MaxHealthyPercentage: z.number().int().min(100).max(200).optional(),
    InstanceWarmup: z.number().int().nonnegative().optional(),
  }),
});

export const Build = z.object({
  buildId: z.string().min(1),
  pipeline: PipelineName,
  channel: ChannelName,
  trigger: Trigger,
  baseImage: BaseImageNameSchema,
  /**
   * The architecture baked (`core/architectures.ts`); PrepareBuild always sets it, absent (a build
   * document from before architectures) means x86_64.
   */
  architecture: ArchitectureSchema.optional(),
  /**
   * Instance types of the build's Packer builder and test instance, checked against `architecture`
   * by PrepareBuild, which always sets them (absent: the backend's defaults).
   */
  instanceTypes: z.object({ builder: z.string().min(1), test: z.string().min(1) }).optional(),
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
  /**
   * Where the promoted image goes (`core/distribution.ts`): every region (the stack's own first),
   * the share targets, the fail policy and the bake's KMS key. PrepareBuild always sets it.
   */
  distribution: DistributionSchema.optional(),
  /**
   * The channel's rollout (`core/rollout.ts`): the tag of the Auto Scaling groups to refresh after
   * promotion and the refresh preferences. Absent: the channel does not roll out.
   */
  rollout: RolloutSchema.optional(),
});
export type Build = z.infer<typeof Build>;

/** `$.copy` in a region's Map iteration: the region's image (a copy, or the candidate at home). */
export const RegionCopy = z.object({
  region: z.string().min(1),
  imageId: ImageId,
  /** True when the image is a copy made by this build; false for the candidate in its own region. */
  copied: z.boolean(),
});
export type RegionCopy = z.infer<typeof RegionCopy>;
/** `$.copyCheck` in a region's Map iteration: the bounded wait for the copy. */
export const RegionCopyCheck = z.object({
  available: z.boolean(),
  attempt: z.number().int().nonnegative(),
  state: z.string(),
  snapshotIds: z.array(z.string()),
});
export type RegionCopyCheck = z.infer<typeof RegionCopyCheck>;
/** What one region of `DistributeImage` reports (`$.distribution[]`). */
export const RegionOutcomeSchema = z.discriminatedUnion('outcome', [
  z.object({
    region: z.string(),
    outcome: z.literal('distributed'),
    imageId: ImageId,
    snapshotIds: z.array(z.string()),
  }),
  z.object({
    region: z.string(),
    outcome: z.literal('failed'),
    error: z.object({ Error: z.string(), Cause: z.string().optional() }),
  }),
]);
/** `$.distributionVerdict`, CheckDistribution's result. */
export const DistributionVerdictSchema = z.object({
  outcome: z.enum(['complete', 'partial']),
  promote: z.array(z.object({ region: z.string(), imageId: ImageId })).min(1),
  failed: z.array(z.object({ region: z.string(), error: z.string() })),
});
export type DistributionVerdict = z.infer<typeof DistributionVerdictSchema>;

export const Candidate = z.object({
  imageId: ImageId,
  name: z.string(),
  createdAt: z.string(),
  snapshotIds: z.array(z.string()),
  /** The `factory:sbom` tag's URI (`core/tags.ts`); absent on an image baked without an SBOM. */
  sbom: z.string().min(1).optional(),
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
  /**
   * Every region's promotion (the stack's own first, the fields above repeat it), with the
   * regions that failed distribution and were left where they were (`promote-succeeded`).
   */
  regions: z
    .array(
      z.object({
        region: z.string(),
        outcome: z.enum(['promoted', 'superseded']),
        imageId: z.string(),
        previousImageId: z.string().nullable(),
        currentImageId: z.string().optional(),
        parameterName: z.string(),
        parameterVersion: z.number().int(),
      }),
    )
    .optional(),
  unpromotedRegions: z.array(z.object({ region: z.string(), error: z.string() })).optional(),
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
  /**
   * With distribution: each other region's retention (the fields above are the stack's own
   * region's), its deregistered, failed and deferred images (kept ones left out).
   */
  regions: z
    .array(
      z.object({
        region: z.string(),
        outcome: z.enum(['complete', 'partial']),
        counts: z.record(z.string(), z.number().int().nonnegative()),
        outcomes: z.array(RetentionOutcome),
        error: z.string().optional(),
      }),
    )
    .optional(),
  /** Set by the ASL when the ApplyRetention task failed as a whole (`$.retentionError`). */
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
export type Retention = z.infer<typeof Retention>;

/** `$.rollout`: RolloutChannel's report (`core/rollout.ts` `RolloutReport`), or RolloutIncomplete's. */
export const RolloutReportSchema = z.object({
  outcome: z.enum(['started', 'none', 'partial']),
  tag: z.object({ key: z.string(), value: z.string() }).optional(),
  regions: z.array(z.string()).optional(),
  groups: z
    .array(
      z.discriminatedUnion('outcome', [
        z.object({
          region: z.string(),
          group: z.string(),
          outcome: z.literal('started'),
          instanceRefreshId: z.string(),
        }),
        z.object({
          region: z.string(),
          group: z.string(),
          outcome: z.literal('in-progress'),
          detail: z.string(),
        }),
        z.object({ region: z.string(), group: z.string(), outcome: z.literal('failed'), error: z.string() }),
      ]),
    )
    .default([]),
  regionErrors: z.array(z.object({ region: z.string(), error: z.string() })).default([]),
  /** Set by the ASL when the RolloutChannel task failed as a whole (`$.rolloutError`). */
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
export type RolloutReportState = z.infer<typeof RolloutReportSchema>;

/** A finding of the vulnerability gate (`core/vulnerability-gate.ts` `Finding`). */
const FindingSchema = z.object({
  id: z.string(),
  severity: z.string(),
  package: z.string(),
  fixedVersion: z.string().optional(),
});

/** `$.inspection`, InspectCandidate's result (`steps/inspect-candidate.ts`). */
export const InspectionSchema = z.object({
  /** The candidate's SBOM (`factory:sbom`). */
  sbom: z.string(),
  /** Components in the SBOM, and the packages among them (components with a package URL). */
  components: z.number().int().nonnegative(),
  packages: z.number().int().nonnegative(),
  /** The package diff against the image the channel serves. */
  diff: z.discriminatedUnion('available', [
    z.object({
      available: z.literal(true),
      /** The image compared against, and its SBOM. */
      againstImageId: z.string(),
      againstSbom: z.string(),
      counts: z.object({
        added: z.number().int().nonnegative(),
        removed: z.number().int().nonnegative(),
        upgraded: z.number().int().nonnegative(),
        downgraded: z.number().int().nonnegative(),
        unchanged: z.number().int().nonnegative(),
      }),
      /** `core/sbom.ts` `diffSummary`: counts, then the first change lines. */
      summary: z.string(),
    }),
    z.object({ available: z.literal(false), reason: z.string() }),
  ]),
  scanner: z.enum(['inspector', 'none']),
  /** Findings per severity; null when nothing was scanned. */
  vulnerabilities: z.record(z.string(), z.number().int().nonnegative()).nullable(),
  verdict: z.object({
    outcome: z.enum(['pass', 'block']),
    threshold: z.string(),
    applied: z.boolean(),
    blocking: z.array(FindingSchema),
    blockingCount: z.number().int().nonnegative(),
    summary: z.string(),
  }),
});
export type Inspection = z.infer<typeof InspectionSchema>;

/** `$.error` as written by a Catch with `ResultPath: $.error`. */
export const CaughtError = z.object({ Error: z.string(), Cause: z.string().optional() });
export type CaughtError = z.infer<typeof CaughtError>;

/** `$.promotionLease` as AcquirePromotionLease returns it. */
export const PromotionLeaseSchema = z.object({
  key: z.string().min(1),
  holder: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }),
});
