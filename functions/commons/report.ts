/**
 * Pipeline reports: channel-neutral `Notification` builders for success and failure (rendered for
 * Slack by `slack/blocks.ts`, for the terminal by `local/sources.ts`). Pure.
 *
 * {@link RESULT_PATHS} and {@link ERROR_STATES} restate facts of the ASL (ResultPaths, which state
 * raises which error) because a Lambda bundle cannot read it; `tests/statemachine/report.test.ts`
 * checks both against `statemachines/image-factory.asl.yaml`.
 */
import { rolloutSummary } from './core/rollout.js';
import type { Notification } from './ports.js';
import type {
  Build,
  Candidate,
  CaughtError,
  ProbeResult,
  Promotion,
  Retention,
  RolloutReportState,
} from './schemas.js';

export interface SuccessReport {
  build: Build;
  candidate: Candidate;
  promotion: Promotion;
  probeResult?: ProbeResult | undefined;
  retention?: Retention | undefined;
  /** `$.rollout` (RolloutChannel or RolloutIncomplete); absent when the channel does not roll out. */
  rollout?: RolloutReportState | undefined;
}

/** Seconds between two ISO instants, rendered as `1h 02m 03s`. */
export const formatDuration = (fromIso: string, to: Date): string => {
  const seconds = Math.max(0, Math.round((to.getTime() - Date.parse(fromIso)) / 1000));
  if (Number.isNaN(seconds)) return 'unknown';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}h ${pad(m)}m ${pad(s)}s` : m > 0 ? `${m}m ${pad(s)}s` : `${s}s`;
};

/**
 * `3 deregistered, 5 kept, 1 failed` (dry run: `2 would be deregistered, …`); a partial run says so
 * with its warnings (`partial: …`), so a retention problem is visible without failing the build.
 */
export const retentionSummary = (retention: Retention | undefined): string => {
  if (!retention) return 'not run';
  const count = (outcome: string) =>
    retention.counts?.[outcome] ?? retention.outcomes.filter((entry) => entry.outcome === outcome).length;
  const parts = retention.dryRun
    ? [`${count('planned')} would be deregistered (dry run)`, `${count('kept')} kept`]
    : [`${count('deregistered') + count('gone')} deregistered`, `${count('kept')} kept`];
  for (const outcome of ['failed', 'deferred'])
    if (count(outcome) > 0) parts.push(`${count(outcome)} ${outcome}`);
  const summary = parts.join(', ');
  if (retention.outcome !== 'partial') return summary;
  const why = retention.error ? [`${retention.error.Error}`] : (retention.warnings ?? []);
  return `${summary}; partial: ${why.join('; ') || 'see the execution'}`;
};

const probeSummary = (probe: ProbeResult | undefined): string => {
  if (!probe) return 'not run';
  return (
    probe.summary ?? `${probe.checks.filter((check) => check.ok).length}/${probe.checks.length} checks passed`
  );
};

/**
 * Report of a successful build: pipeline, source and new image, commit, duration, probe, retention
 * and, when the channel rolls out, the rollout (`core/rollout.ts` `rolloutSummary`).
 * A superseded build (`promotion.outcome: superseded`: a build at least as new was already current)
 * says so in the title and names the image the channel kept; it is a success, not a failure.
 */
export const buildSuccessNotification = (
  report: SuccessReport,
  now: Date,
  executionUrl?: string,
): Notification => {
  const { build, candidate, promotion } = report;
  const superseded = promotion.outcome === 'superseded';
  return {
    outcome: 'success',
    title: superseded
      ? `${build.pipeline}: ${candidate.imageId} superseded on ${promotion.channel} (kept ${promotion.currentImageId ?? 'the current image'})`
      : `${build.pipeline}: ${candidate.imageId} promoted to ${promotion.channel}`,
    fields: [
      { label: 'Pipeline', value: build.pipeline },
      { label: 'Channel', value: promotion.channel },
      {
        label: 'Outcome',
        value: superseded ? `superseded: ${promotion.reason ?? 'a newer build is current'}` : 'promoted',
      },
      { label: 'Base image', value: `${build.baseImage} (${build.sourceImageId})` },
      { label: 'New image', value: `${candidate.imageId} ${candidate.name}`.trim() },
      superseded
        ? { label: 'Current image', value: promotion.currentImageId ?? 'unknown' }
        : { label: 'Previous image', value: promotion.previousImageId ?? 'none' },
      { label: 'Commit', value: build.commit ?? 'not pinned' },
      { label: 'Duration', value: formatDuration(build.startedAt, now) },
      { label: 'Probe', value: probeSummary(report.probeResult) },
      { label: 'Retention', value: retentionSummary(report.retention) },
      ...(build.rollout && !superseded ? [{ label: 'Rollout', value: rolloutSummary(report.rollout) }] : []),
    ],
    ...(executionUrl ? { link: { label: 'Execution', url: executionUrl } } : {}),
  };
};

/**
 * Task (and Map) states of the success path in pipeline order, with the key of the result each writes
 * (`ResultPath: $.<key>`).
 */
export const RESULT_PATHS: ReadonlyArray<readonly [state: string, resultKey: string]> = [
  ['PrepareBuild', 'build'],
  ['BakeImage', 'bake'],
  ['FindCandidateImage', 'candidate'],
  ['LaunchTestInstance', 'testInstance'],
  ['CheckInstanceOnline', 'online'],
  ['ProbeTestInstance', 'probe'],
  ['CheckProbeResult', 'probeResult'],
  ['TerminateTestInstance', 'termination'],
  ['DistributeImage', 'regionOutcomes'],
  ['CheckDistribution', 'distributionVerdict'],
  ['AcquirePromotionLease', 'promotionLease'],
  ['PromoteImage', 'promotion'],
  ['ReleasePromotionLease', 'promotionLeaseRelease'],
  ['ApplyRetention', 'retention'],
  ['RolloutChannel', 'rollout'],
];

/**
 * The state that raises each named error: the Task that throws it, or the poll Task whose loop
 * records it by a Pass state (`InstanceNeverOnline`, `ProbeFailed`, `ProbeTimedOut`).
 */
export const ERROR_STATES: Readonly<Record<string, string>> = {
  InvalidInput: 'PrepareBuild',
  InvalidDistribution: 'PrepareBuild',
  DistributionFailed: 'CheckDistribution',
  UnknownBaseImage: 'PrepareBuild',
  UnknownImageDefinition: 'PrepareBuild',
  ForeignBaseImage: 'PrepareBuild',
  CandidateNotFound: 'FindCandidateImage',
  InstanceNeverOnline: 'CheckInstanceOnline',
  ProbeFailed: 'CheckProbeResult',
  ProbeTimedOut: 'CheckProbeResult',
  InvocationDoesNotExist: 'CheckProbeResult',
  PromotionLeaseHeld: 'AcquirePromotionLease',
  EventPublishFailed: 'PromoteImage',
};

/**
 * Best-effort name of the state that failed. A Catch's `$.error` carries only Error and Cause, so
 * this uses, in order: an explicit `failedState`, the error name of our named errors, then the
 * first state in pipeline order whose result is missing from the state document.
 */
export const inferFailedState = (state: Record<string, unknown>, error: CaughtError | undefined): string => {
  if (typeof state.failedState === 'string' && state.failedState !== '') return state.failedState;
  const byName = error && Object.hasOwn(ERROR_STATES, error.Error) ? ERROR_STATES[error.Error] : undefined;
  if (byName) return byName;
  const missing = RESULT_PATHS.find(([, key]) => state[key] === undefined);
  return missing?.[0] ?? 'unknown';
};

/** Report of a failed execution: pipeline, failed state, error and cause. */
export const buildFailureNotification = (
  state: Record<string, unknown> & { build?: Build | undefined; pipeline?: string | undefined },
  error: CaughtError | undefined,
  executionUrl?: string,
): Notification => {
  const pipeline = state.build?.pipeline ?? state.pipeline ?? 'unknown pipeline';
  const failedState = inferFailedState(state, error);
  return {
    outcome: 'failure',
    title: `${pipeline}: build failed in ${failedState}`,
    fields: [
      { label: 'Pipeline', value: pipeline },
      { label: 'Failed state', value: failedState },
      { label: 'Error', value: error?.Error ?? 'unknown' },
      ...(state.build
        ? [
            { label: 'Build', value: state.build.buildId },
            { label: 'Base image', value: `${state.build.baseImage} (${state.build.sourceImageId})` },
            { label: 'Commit', value: state.build.commit ?? 'not pinned' },
          ]
        : []),
      ...(state.cleanup === undefined ? [] : [{ label: 'Cleanup', value: cleanupSummary(state.cleanup) }]),
    ],
    detail: (error?.Cause ?? 'no cause recorded').slice(0, 2900),
    ...(executionUrl ? { link: { label: 'Execution', url: executionUrl } } : {}),
  };
};

/**
 * One line on what `CleanupAfterFailure` did (`$.cleanup`): the instances terminated and the
 * candidate's fate or, when cleanup itself failed (the ASL's Catch stored `{Error, Cause}` there),
 * a warning that test instances may still be running.
 */
export const cleanupSummary = (cleanup: unknown): string => {
  const value = (cleanup ?? {}) as {
    Error?: string;
    Cause?: string;
    terminatedInstanceIds?: string[];
    deregisteredImageId?: string | null;
    candidate?: string;
  };
  if (value.Error) {
    return `FAILED (${value.Error}: ${(value.Cause ?? '').slice(0, 300)}) — test instances of this build may still be running`;
  }
  const terminated = value.terminatedInstanceIds ?? [];
  const instances = terminated.length
    ? `terminated ${terminated.join(', ')}`
    : 'no test instance to terminate';
  const candidate = value.deregisteredImageId
    ? `candidate ${value.deregisteredImageId} deregistered`
    : `candidate ${value.candidate ?? 'absent'}`;
  return `${instances}; ${candidate}`;
};

/** Step Functions console URL of an execution (region taken from the ARN). */
export const executionConsoleUrl = (executionArn: string | undefined): string | undefined => {
  const region = executionArn?.split(':')[3];
  if (!executionArn || !region) return undefined;
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
};
