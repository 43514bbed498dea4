/**
 * Pipeline reports: channel-neutral `Notification` builders for success and failure (rendered for
 * Slack by `slack/blocks.ts`, for the terminal by `local/sources.ts`). Pure.
 *
 * {@link RESULT_PATHS} and {@link ERROR_STATES} restate facts of the ASL (ResultPaths, which state
 * raises which error) because a Lambda bundle cannot read it; `tests/statemachine/report.test.ts`
 * checks both against `statemachines/image-factory.asl.yaml`.
 */
import { type CostDeployment, estimateBuildCost, formatUsd } from './core/build-cost.js';
import { timePerPhase, usageOfRuns } from './core/build-times.js';
import type { StateRun } from './core/execution-history.js';
import { rolloutSummary } from './core/rollout.js';
import type { Notification } from './ports.js';
import {
  type Build,
  type Candidate,
  type CaughtError,
  type Inspection,
  InspectionSchema,
  type ProbeResult,
  type Promotion,
  type Retention,
  type RolloutReportState,
} from './schemas.js';

/**
 * Where the execution ran, for the time, cost and link parts of a report: on AWS (with the sizes
 * its cost estimate prices) or on the local backend (no AWS cost, no console).
 */
export type ReportBackend = { kind: 'aws'; cost: CostDeployment } | { kind: 'local' };

/**
 * The execution's state runs so far (`core/execution-history.ts`; epoch ms), or why they could not
 * be read (`unavailable`: a short reason, e.g. the SDK error's name).
 */
export type ReportRuns = { runs: StateRun[]; startedAt?: number | undefined } | { unavailable: string };

/** What a report and `factory status` say about cost on the local backend. */
export const LOCAL_COST_NOTE = 'none: a local run uses no AWS resources (and has no console)';

export interface SuccessReport {
  build: Build;
  candidate: Candidate;
  promotion: Promotion;
  probeResult?: ProbeResult | undefined;
  /** `$.inspection` (InspectCandidate): package diff and vulnerability gate; absent in builds before it. */
  inspection?: Inspection | undefined;
  retention?: Retention | undefined;
  /** `$.rollout` (RolloutChannel or RolloutIncomplete); absent when the channel does not roll out. */
  rollout?: RolloutReportState | undefined;
}

/** Seconds between two ISO instants, rendered as `1h 02m 03s`. */
export const formatDuration = (fromIso: string, to: Date): string =>
  formatSeconds((to.getTime() - Date.parse(fromIso)) / 1000);

/** Seconds rendered as `1h 02m 03s`, `4m 05s`, `6s` (rounded; negative as 0; NaN as `unknown`). */
export const formatSeconds = (raw: number): string => {
  const seconds = Math.max(0, Math.round(raw));
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
 * The `Packages` field (the package diff against the channel's image: counts and first lines, or
 * why there is none) and the `Vulnerabilities` field (the gate's verdict and the counts per
 * severity), from `$.inspection`; none when the build has no inspection.
 */
export const inspectionFields = (
  inspection: Inspection | undefined,
): Array<{ label: 'Packages' | 'Vulnerabilities'; value: string }> => {
  if (inspection === undefined) return [];
  const diff = inspection.diff.available
    ? `against ${inspection.diff.againstImageId}: ${inspection.diff.summary}`
    : `not available: ${inspection.diff.reason}`;
  const counts = inspection.vulnerabilities
    ? Object.entries(inspection.vulnerabilities)
        .filter(([, count]) => count > 0)
        .map(([severity, count]) => `${count} ${severity}`)
        .join(', ') || 'no findings'
    : undefined;
  return [
    { label: 'Packages', value: `${inspection.packages} (SBOM ${inspection.sbom}); ${diff}` },
    {
      label: 'Vulnerabilities',
      value: `${inspection.verdict.summary} [scanner ${inspection.scanner}${counts === undefined ? '' : `: ${counts}`}]`,
    },
  ];
};

/**
 * `inspectionFields` of an execution's output, when it has a readable `$.inspection` (the CLI's
 * `status`); `{}` otherwise.
 */
export const inspectionSummary = (output: unknown): { packages?: string; vulnerabilities?: string } => {
  const parsed = InspectionSchema.safeParse((output as { inspection?: unknown } | null)?.inspection);
  if (!parsed.success) return {};
  const fields = Object.fromEntries(inspectionFields(parsed.data).map(({ label, value }) => [label, value]));
  return { packages: fields.Packages, vulnerabilities: fields.Vulnerabilities } as {
    packages?: string;
    vulnerabilities?: string;
  };
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
  run?: { runs: ReportRuns; backend: ReportBackend },
): Notification => {
  const { build, candidate, promotion } = report;
  const imageUrl =
    run?.backend.kind === 'aws' ? imageConsoleUrl(build.executionArn, candidate.imageId) : undefined;
  const links = [
    ...(executionUrl ? [{ label: 'Execution', url: executionUrl }] : []),
    ...(imageUrl ? [{ label: 'Image', url: imageUrl }] : []),
  ];
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
      ...timeAndCostFields(build.startedAt, now, run, build.instanceTypes),
      ...inspectionFields(report.inspection),
      { label: 'Probe', value: probeSummary(report.probeResult) },
      { label: 'Retention', value: retentionSummary(report.retention) },
      ...(build.rollout && !superseded ? [{ label: 'Rollout', value: rolloutSummary(report.rollout) }] : []),
    ],
    ...(links.length > 0 ? { links } : {}),
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
  ['InspectCandidate', 'inspection'],
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
  CandidateWithoutSbom: 'InspectCandidate',
  SbomUnreadable: 'InspectCandidate',
  VulnerabilityGateFailed: 'InspectCandidate',
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
  state: Record<string, unknown> & {
    build?: Build | undefined;
    pipeline?: string | undefined;
    inspection?: Inspection | undefined;
  },
  error: CaughtError | undefined,
  executionUrl?: string,
  run?: { runs: ReportRuns; backend: ReportBackend; now: Date },
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
      ...(run ? timeAndCostFields(state.build?.startedAt, run.now, run, state.build?.instanceTypes) : []),
      ...inspectionFields(state.inspection),
      ...(state.cleanup === undefined ? [] : [{ label: 'Cleanup', value: cleanupSummary(state.cleanup) }]),
    ],
    detail: (error?.Cause ?? 'no cause recorded').slice(0, 2900),
    ...(executionUrl ? { links: [{ label: 'Execution', url: executionUrl }] } : {}),
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

/** Most phases the report names after the total (the longest; the rest are summed as `other`). */
export const REPORT_PHASES = 5;
/** Most cost lines the report names after the total (the largest; the rest are summed as `other`). */
export const REPORT_COST_LINES = 3;

/** `[{name, value}]` → `a 1, b 2, other 3`: the `limit` largest by value, in their order, the rest summed. */
const largest = (
  entries: ReadonlyArray<{ name: string; value: number }>,
  limit: number,
  show: (value: number) => string,
): string => {
  const kept = new Set(
    [...entries]
      .sort((a, b) => b.value - a.value)
      .slice(0, limit)
      .map((entry) => entry.name),
  );
  const rest = entries.filter((entry) => !kept.has(entry.name)).reduce((sum, entry) => sum + entry.value, 0);
  return [
    ...entries.filter((entry) => kept.has(entry.name)).map((entry) => `${entry.name} ${show(entry.value)}`),
    ...(rest > 0 ? [`other ${show(rest)}`] : []),
  ].join(', ');
};

/**
 * The `Time` field (the total, then the longest phases of `core/build-times.ts`) and, on AWS, the
 * `Estimated cost` field (the total at list prices, then its largest lines; a type without a list
 * price makes the total a lower bound, said so) or, locally, the statement that a local run has no
 * AWS cost or console. Without the runs (the history could not be read) only the total from
 * `startedAt` is shown, with the reason: the report is still sent. `instanceTypes` (the build's
 * `$.build.instanceTypes`, set by PrepareBuild for its architecture) replace the deployment's
 * x86_64 defaults in the estimate.
 */
export const timeAndCostFields = (
  startedAt: string | undefined,
  now: Date,
  run: { runs: ReportRuns; backend: ReportBackend } | undefined,
  instanceTypes?: { builder: string; test: string } | undefined,
): Array<{ label: string; value: string }> => {
  const total = startedAt === undefined ? 'unknown' : formatDuration(startedAt, now);
  if (run === undefined) return [{ label: 'Duration', value: total }];
  const local = run.backend.kind === 'local';
  const noAws = { label: 'Cost', value: LOCAL_COST_NOTE };
  if ('unavailable' in run.runs) {
    return [
      { label: 'Time', value: `${total} (time per state and cost unavailable: ${run.runs.unavailable})` },
      ...(local ? [noAws] : []),
    ];
  }
  const { runs } = run.runs;
  const at = now.getTime();
  const from = run.runs.startedAt ?? runs[0]?.enteredAt;
  const phases = timePerPhase(runs, at);
  const time = `${from === undefined ? total : formatSeconds((at - from) / 1000)}${
    phases.length === 0
      ? ''
      : ` (${largest(
          phases.map(({ phase, seconds }) => ({ name: phase, value: seconds })),
          REPORT_PHASES,
          formatSeconds,
        )})`
  }`;
  if (run.backend.kind === 'local') return [{ label: 'Time', value: `${time}, local` }, noAws];
  const deployment = instanceTypes
    ? {
        ...run.backend.cost,
        builderInstanceType: instanceTypes.builder,
        testInstanceType: instanceTypes.test,
      }
    : run.backend.cost;
  const cost = estimateBuildCost(usageOfRuns(runs, at), deployment);
  const lines = largest(
    Object.entries(cost.items).map(([name, value]) => ({ name, value })),
    REPORT_COST_LINES,
    formatUsd,
  );
  const unpriced =
    cost.unpriced.length === 0 ? '' : `; at least: no list price for ${cost.unpriced.join(', ')}`;
  return [
    { label: 'Time', value: time },
    {
      label: 'Estimated cost',
      value: `${formatUsd(cost.total)} (${lines}) at us-east-1 list prices${unpriced}`,
    },
  ];
};

/** `https://<region>.console.aws.amazon.com`, for a commercial AWS region name; undefined otherwise (`local`). */
const consoleOrigin = (region: string | undefined): string | undefined =>
  region !== undefined && /^[a-z]{2}(-[a-z]+)+-\d$/.test(region)
    ? `https://${region}.console.aws.amazon.com`
    : undefined;

/**
 * Step Functions console URL of an execution (region taken from the ARN): the execution details
 * page (https://docs.aws.amazon.com/step-functions/latest/dg/exec-details-interface-overview.html),
 * `https://<region>.console.aws.amazon.com/states/home?region=<region>#/v2/executions/details/<arn>`.
 * Undefined for an ARN outside the `aws` partition or of the local backend (region `local`).
 */
export const executionConsoleUrl = (executionArn: string | undefined): string | undefined => {
  const [, partition, , region] = executionArn?.split(':') ?? [];
  const origin = partition === 'aws' ? consoleOrigin(region) : undefined;
  if (!executionArn || !origin) return undefined;
  return `${origin}/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
};

/**
 * EC2 console URL of an AMI in the execution's region: the console's AMI details page,
 * `https://<region>.console.aws.amazon.com/ec2/home?region=<region>#ImageDetails:imageId=<ami>`.
 * AWS documents no deep-link format; this is the address the console itself shows for the page
 * (and the form public tools link to, e.g. steampipe-mod-aws-insights' AMI dashboard).
 * Undefined for a local execution or an id that is not an AMI id.
 */
export const imageConsoleUrl = (executionArn: string | undefined, imageId: string): string | undefined => {
  const [, partition, , region] = executionArn?.split(':') ?? [];
  const origin = partition === 'aws' ? consoleOrigin(region) : undefined;
  if (!origin || !/^ami-[0-9a-f]{8,17}$/.test(imageId)) return undefined;
  return `${origin}/ec2/home?region=${region}#ImageDetails:imageId=${imageId}`;
};
