/**
 * The input of every handler, parsed by its middy `parser` middleware. A Task state's input is
 * the whole state document, so those schemas are loose objects: they name what the step reads and
 * let the rest pass through. The functions invoked outside the state machine (RollbackChannel by an
 * operator, SweepLeftovers by EventBridge) have strict inputs.
 */
import * as z from 'zod';
import { ExecutionContext, ExecutionInput } from './execution-input.js';
import {
  ArchitectureSchema,
  Build,
  Candidate,
  CaughtError,
  ChannelName,
  DistributionVerdictSchema,
  ImageId,
  InspectionSchema,
  Online,
  PipelineName,
  Probe,
  ProbeResult,
  Promotion,
  PromotionLeaseSchema,
  RegionCopy,
  RegionCopyCheck,
  RegionOutcomeSchema,
  RegionTargetSchema,
  Retention,
  RolloutReportSchema,
  TestInstance,
} from './schemas.js';

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

// ---- Task inputs (the state document; only the read parts are declared) ----

export const FindCandidateImageInput = z.looseObject({ build: Build });
export type FindCandidateImageInput = z.infer<typeof FindCandidateImageInput>;
export const InspectCandidateInput = z.looseObject({ build: Build, candidate: Candidate });
export type InspectCandidateInput = z.infer<typeof InspectCandidateInput>;
export const LaunchTestInstanceInput = z.looseObject({ build: Build, candidate: Candidate });
export type LaunchTestInstanceInput = z.infer<typeof LaunchTestInstanceInput>;
export const CheckInstanceOnlineInput = z.looseObject({
  build: Build,
  testInstance: TestInstance,
  online: Online.optional(),
});
export type CheckInstanceOnlineInput = z.infer<typeof CheckInstanceOnlineInput>;
export const ProbeTestInstanceInput = z.looseObject({ build: Build, testInstance: TestInstance });
export type ProbeTestInstanceInput = z.infer<typeof ProbeTestInstanceInput>;
export const CheckProbeResultInput = z.looseObject({
  build: Build,
  probe: Probe,
  probeResult: ProbeResult.optional(),
});
export type CheckProbeResultInput = z.infer<typeof CheckProbeResultInput>;
export const TerminateTestInstanceInput = z.looseObject({ build: Build, testInstance: TestInstance });
export type TerminateTestInstanceInput = z.infer<typeof TerminateTestInstanceInput>;
// The DistributeImage Map state's iteration document: `{ build, candidate, target }` (ItemSelector),
// then `copy` and `copyCheck` as its Task states add them.
export const CopyImageToRegionInput = z.looseObject({
  build: Build,
  candidate: Candidate,
  target: RegionTargetSchema,
});
export type CopyImageToRegionInput = z.infer<typeof CopyImageToRegionInput>;
export const CheckRegionCopyInput = z.looseObject({
  copy: RegionCopy,
  copyCheck: RegionCopyCheck.optional(),
});
export type CheckRegionCopyInput = z.infer<typeof CheckRegionCopyInput>;
export const ShareRegionCopyInput = z.looseObject({
  build: Build,
  copy: RegionCopy,
  copyCheck: RegionCopyCheck,
});
export type ShareRegionCopyInput = z.infer<typeof ShareRegionCopyInput>;
export const CheckDistributionInput = z.looseObject({
  build: Build,
  regionOutcomes: z.array(RegionOutcomeSchema),
});
export type CheckDistributionInput = z.infer<typeof CheckDistributionInput>;
export const PromoteImageInput = z.looseObject({
  build: Build,
  candidate: Candidate,
  probeResult: ProbeResult.optional(),
  distributionVerdict: DistributionVerdictSchema.optional(),
});
export type PromoteImageInput = z.infer<typeof PromoteImageInput>;
export const AcquirePromotionLeaseInput = z.looseObject({ build: Build });
export type AcquirePromotionLeaseInput = z.infer<typeof AcquirePromotionLeaseInput>;
export const ReleasePromotionLeaseInput = z.looseObject({ build: Build });
export type ReleasePromotionLeaseInput = z.infer<typeof ReleasePromotionLeaseInput>;
export const ApplyRetentionInput = z.looseObject({
  build: Build,
  promotion: Promotion.optional(),
  /** Per-execution override of the configured dry-run mode (`ExecutionInput.retentionDryRun`). */
  retentionDryRun: z.boolean().optional(),
});
export type ApplyRetentionInput = z.infer<typeof ApplyRetentionInput>;
export const CleanupAfterFailureInput = z.looseObject({
  build: Build.optional(),
  candidate: Candidate.optional(),
  testInstance: TestInstance.optional(),
  /** TerminateTestInstance's result: present once the build reached its promotion. */
  termination: z.unknown().optional(),
  error: CaughtError.optional(),
  promotionLease: PromotionLeaseSchema.optional(),
  /** CheckDistribution's verdict: present once the build reached its promotion. */
  distributionVerdict: z.unknown().optional(),
});
export type CleanupAfterFailureInput = z.infer<typeof CleanupAfterFailureInput>;
export const RolloutChannelInput = z.looseObject({ build: Build, promotion: Promotion });
export type RolloutChannelInput = z.infer<typeof RolloutChannelInput>;
export const NotifySuccessInput = z.looseObject({
  build: Build,
  candidate: Candidate,
  /** InspectCandidate's result (package diff, vulnerability gate); absent in executions before it. */
  inspection: InspectionSchema.optional(),
  probeResult: ProbeResult.optional(),
  promotion: Promotion,
  retention: Retention.optional(),
  /** RolloutChannel's report, or RolloutIncomplete's; absent when the channel does not roll out. */
  rollout: RolloutReportSchema.optional(),
});
export type NotifySuccessInput = z.infer<typeof NotifySuccessInput>;
export const NotifyFailureInput = z.looseObject({
  pipeline: z.string().optional(),
  build: Build.optional(),
  error: CaughtError.optional(),
  failedState: z.string().optional(),
  candidate: Candidate.optional(),
  inspection: InspectionSchema.optional(),
  probeResult: ProbeResult.optional(),
});
export type NotifyFailureInput = z.infer<typeof NotifyFailureInput>;
export const OpenIncidentInput = z.looseObject({
  build: Build.extend({ alerting: z.enum(['incident-manager', 'opscenter']) }),
  error: CaughtError.optional(),
});
export type OpenIncidentInput = z.infer<typeof OpenIncidentInput>;
export const RollbackChannelInput = z.strictObject({
  pipeline: PipelineName,
  /** The architecture whose channel moves (default x86_64: each architecture has its own pointer). */
  architecture: ArchitectureSchema.optional(),
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
