/**
 * The local backend's task table: each Task state of `statemachines/image-factory.asl.yaml` →
 * the zod schema of its input, the step function its Lambda calls (`functions/commons/steps/`),
 * and the local ports that step gets. The runner serves the ASL's Task states from this table
 * (aws-local-stepfunctions `taskResourceLocalHandlers`); {@link assertLocalTasks} refuses to start
 * when the two disagree, so a Task state can never fall through to its placeholder ARN.
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import type { z } from 'zod';
import type { ArchitectureSettings } from '#commons/core/architectures.js';
import type { PollCheck } from '#commons/core/poll-bounds.js';
import { DEFAULT_VULNERABILITY_THRESHOLD } from '#commons/core/vulnerability-gate.js';
import { FactoryError } from '#commons/errors.js';
import {
  AcquirePromotionLeaseInput,
  ApplyRetentionInput,
  CheckDistributionInput,
  CheckInstanceOnlineInput,
  CheckProbeResultInput,
  CheckRegionCopyInput,
  CleanupAfterFailureInput,
  CopyImageToRegionInput,
  FindCandidateImageInput,
  InspectCandidateInput,
  LaunchTestInstanceInput,
  NotifyFailureInput,
  NotifySuccessInput,
  PrepareBuildInput,
  ProbeTestInstanceInput,
  PromoteImageInput,
  ReleasePromotionLeaseInput,
  RolloutChannelInput,
  ShareRegionCopyInput,
  TerminateTestInstanceInput,
} from '#commons/handler-inputs.js';
import { acquirePromotionLease } from '#commons/steps/acquire-promotion-lease.js';
import { applyRetentionInRegions } from '#commons/steps/apply-retention.js';
import { checkInstanceOnline } from '#commons/steps/check-instance-online.js';
import { checkProbeResult } from '#commons/steps/check-probe-result.js';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import {
  checkDistribution,
  checkRegionCopy,
  copyImageToRegion,
  shareRegionCopy,
} from '#commons/steps/distribute-image.js';
import { findCandidateImage } from '#commons/steps/find-candidate-image.js';
import { inspectCandidate } from '#commons/steps/inspect-candidate.js';
import { launchTestInstance } from '#commons/steps/launch-test-instance.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';
import { notifySuccess } from '#commons/steps/notify-success.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';
import { probeTestInstance } from '#commons/steps/probe-test-instance.js';
import { promoteImageInRegions } from '#commons/steps/promote-image.js';
import { releasePromotionLease } from '#commons/steps/release-promotion-lease.js';
import { rolloutChannel } from '#commons/steps/rollout-channel.js';
import { terminateTestInstance } from '#commons/steps/terminate-test-instance.js';
import { parseOrThrow } from '#commons/validation.js';
import type { RunTaskRequest } from '#local/bake.js';
import { LOCAL_REGION, LocalImageDistributor, localRegionalPorts } from '#local/distribution.js';
import { LocalScalingGroups } from '#local/scaling-groups.js';
import type { LocalPorts } from '#local/wiring.js';
import { taskStateNames } from '#statemachines/definition.js';

/** What a local task gets besides its input: the ports, the run's settings and the runner's hooks. */
export interface LocalTaskContext {
  readonly ports: LocalPorts;
  /** Seconds the probe suite may run on the test machine. */
  readonly probeTimeoutSeconds: number;
  readonly retention: { maxAgeDays: number; keepLatest: number; dryRun: boolean };
  /** What the pipelines declare (PrepareBuild refuses an undeclared architecture); absent: x86_64 only. */
  readonly architectures?: ArchitectureSettings;
  /** Checks before InstanceNeverOnline / ProbeTimedOut (`localPollBounds()`). */
  readonly bounds: Readonly<Record<PollCheck, number>>;
  /** BakeImage: bake (or import) the image the ECS RunTask request describes; the stopped-task shape. */
  bake(request: RunTaskRequest): Promise<{ TaskArn: string; LastStatus: string }>;
  /**
   * Called with the test instance when TerminateTestInstance is about to terminate it, i.e. after
   * its probe passed and first boot finished (the runner reads its identity for the clone check).
   */
  beforeTerminate?(instanceId: string): Promise<void>;
}

/** One row of the table: the input schema (none for the ECS request) and what runs the state. */
export interface LocalTask {
  readonly schema: z.ZodType | undefined;
  run(raw: unknown, context: LocalTaskContext): Promise<unknown>;
}

/** A Task served by a step: the input is parsed with `schema` (InvalidInput when it does not fit). */
const step = <S extends z.ZodType>(
  schema: S,
  run: (input: z.output<S>, context: LocalTaskContext) => Promise<unknown>,
): LocalTask => ({ schema, run: async (raw, context) => run(parseOrThrow(schema, raw), context) });

/** The table, keyed by Task state name. */
export const LOCAL_TASKS: Readonly<Record<string, LocalTask>> = {
  PrepareBuild: step(PrepareBuildInput, (input, { ports, probeTimeoutSeconds, architectures }) =>
    prepareBuild(
      input,
      {
        sources: ports.sources,
        ledger: ports.ledger,
        parents: { pointer: ports.pointer, images: ports.images },
      },
      {
        probeTimeoutSeconds,
        distribution: { settings: {}, homeRegion: LOCAL_REGION },
        ...(architectures ? { architectures } : {}),
      },
    ),
  ),
  BakeImage: { schema: undefined, run: (raw, { bake }) => bake(raw as RunTaskRequest) },
  FindCandidateImage: step(FindCandidateImageInput, (input, { ports }) =>
    findCandidateImage(input, { images: ports.images }),
  ),
  // No vulnerability database locally: the threshold is reported, the gate not applied.
  InspectCandidate: step(InspectCandidateInput, (input, { ports }) =>
    inspectCandidate(
      input,
      { images: ports.images, pointer: ports.pointer, sboms: ports.sboms, scanner: ports.scanner },
      { threshold: DEFAULT_VULNERABILITY_THRESHOLD },
    ),
  ),
  LaunchTestInstance: step(LaunchTestInstanceInput, (input, { ports }) =>
    launchTestInstance(input, { launcher: ports.launcher }),
  ),
  CheckInstanceOnline: step(CheckInstanceOnlineInput, (input, { ports, bounds }) =>
    checkInstanceOnline(input, { launcher: ports.launcher }, { maxAttempts: bounds.CheckInstanceOnline }),
  ),
  ProbeTestInstance: step(ProbeTestInstanceInput, (input, { ports }) =>
    probeTestInstance(input, { runner: ports.runner }),
  ),
  CheckProbeResult: step(CheckProbeResultInput, (input, { ports, bounds }) =>
    checkProbeResult(input, { runner: ports.runner }, { maxAttempts: bounds.CheckProbeResult }),
  ),
  TerminateTestInstance: step(TerminateTestInstanceInput, async (input, { ports, beforeTerminate }) => {
    await beforeTerminate?.(input.testInstance.instanceId);
    return await terminateTestInstance(input, { launcher: ports.launcher });
  }),
  // One region locally (local/distribution.ts): the candidate is the region's image.
  CopyImageToRegion: step(CopyImageToRegionInput, (input, { ports }) =>
    copyImageToRegion(input, { distributor: new LocalImageDistributor(ports.images) }),
  ),
  CheckRegionCopy: step(CheckRegionCopyInput, (input, { ports }) =>
    checkRegionCopy(input, { distributor: new LocalImageDistributor(ports.images) }),
  ),
  ShareRegionCopy: step(ShareRegionCopyInput, (input, { ports }) =>
    shareRegionCopy(input, { distributor: new LocalImageDistributor(ports.images) }),
  ),
  CheckDistribution: step(CheckDistributionInput, (input) => checkDistribution(input)),
  AcquirePromotionLease: step(AcquirePromotionLeaseInput, (input, { ports }) =>
    acquirePromotionLease(input, { ledger: ports.ledger }),
  ),
  PromoteImage: step(PromoteImageInput, (input, { ports }) =>
    promoteImageInRegions(input, { ...localRegionalPorts(ports), homeRegion: LOCAL_REGION }),
  ),
  ReleasePromotionLease: step(ReleasePromotionLeaseInput, (input, { ports }) =>
    releasePromotionLease(input, { ledger: ports.ledger }),
  ),
  ApplyRetention: step(ApplyRetentionInput, (input, { ports, retention }) =>
    applyRetentionInRegions(input, { ...localRegionalPorts(ports), homeRegion: LOCAL_REGION }, retention),
  ),
  // Local reports: local times from the run's own history, no AWS cost or console (report.ts).
  // No Auto Scaling groups locally (local/scaling-groups.ts): the report says nothing was refreshed.
  RolloutChannel: step(RolloutChannelInput, (input) =>
    rolloutChannel(input, { groups: new LocalScalingGroups(), homeRegion: LOCAL_REGION }),
  ),
  NotifySuccess: step(NotifySuccessInput, (input, { ports }) =>
    notifySuccess(
      input,
      { notifier: ports.notifier, history: ports.history },
      { backend: { kind: 'local' } },
    ),
  ),
  CleanupAfterFailure: step(CleanupAfterFailureInput, (input, { ports }) =>
    cleanupAfterFailure(input, {
      launcher: ports.launcher,
      images: ports.images,
      pointer: ports.pointer,
      ledger: ports.ledger,
    }),
  ),
  NotifyFailure: step(NotifyFailureInput, (input, { ports }) =>
    notifyFailure(
      input,
      { notifier: ports.notifier, events: ports.events, history: ports.history },
      { backend: { kind: 'local' } },
    ),
  ),
  OpenIncident: {
    schema: undefined,
    run: async () => {
      throw new Error('Incident Manager is not available on the local backend');
    },
  },
};

/** The ASL and the local task table disagree; the run does not start. */
export class LocalTaskTableMismatch extends FactoryError {
  constructor(message: string) {
    super('LocalTaskTableMismatch', message);
  }
}

/**
 * The startup check: every Task state of `definition` has a row in `tasks`, and every row is a
 * Task state of `definition`.
 * @throws LocalTaskTableMismatch "no local handler for Task state X" (or "local handler for X,
 *   which is no Task state of the ASL").
 */
export function assertLocalTasks(
  definition: StateMachineDefinition,
  tasks: Readonly<Record<string, LocalTask>> = LOCAL_TASKS,
): void {
  const states = taskStateNames(definition);
  for (const state of states) {
    if (!Object.hasOwn(tasks, state))
      throw new LocalTaskTableMismatch(`no local handler for Task state ${state}`);
  }
  for (const state of Object.keys(tasks)) {
    if (!states.includes(state))
      throw new LocalTaskTableMismatch(`local handler for ${state}, which is no Task state of the ASL`);
  }
}
