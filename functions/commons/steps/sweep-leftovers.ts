import {
  type ExecutionFacts,
  executionsOf,
  LEFTOVER_KINDS,
  type LeftoverKind,
  ownedLeftovers,
  planSweep,
  type SweepDecision,
  type SweepReason,
  type SweepScope,
} from '../core/sweep.js';
import type {
  ExecutionStatusReader,
  ImageStore,
  LeftoverStore,
  Notification,
  Notifier,
  SnapshotOutcome,
} from '../ports.js';

/** What became of one resource of this stage. */
export interface SweepOutcome {
  kind: LeftoverKind;
  id: string;
  name: string;
  pipeline: string;
  buildId: string;
  /** The execution that made it. */
  execution: string;
  action: 'remove' | 'keep';
  reason: SweepReason;
  /**
   * `removed`, `gone` (already gone: done), `planned` (dry run), `kept`, `deferred` (not tried in
   * time, or a security group still in use after the retries: the next run goes on), `failed`.
   */
  outcome: 'removed' | 'gone' | 'planned' | 'kept' | 'deferred' | 'failed';
  error?: string;
  snapshots?: SnapshotOutcome[];
}

/** The sweeper's result: per kind, how many of this stage's resources were found and removed. */
export interface SweepReport {
  dryRun: boolean;
  /** This stage's resources found, per kind (foreign ones are never counted). */
  found: Record<LeftoverKind, number>;
  /** Removed (or already gone), per kind; in a dry run, what would be removed. */
  removed: Record<LeftoverKind, number>;
  failed: number;
  deferred: number;
  outcomes: SweepOutcome[];
  /** Slack delivery: `sent`, `skipped` (nothing to report), or `failed: <error>`. */
  notification: string;
}

export interface SweepOptions {
  scope: SweepScope;
  graceMinutes: number;
  dryRun: boolean;
  /** Attempts of one `DeleteSecurityGroup` while an instance still uses the group (default 4). */
  dependencyAttempts?: number;
  /** Pause between those attempts, in ms (default 15 000: an instance takes tens of seconds to terminate). */
  dependencyDelayMs?: number;
  /** Milliseconds left before the caller must return (Lambda: `context.getRemainingTimeInMillis`). */
  remainingMs?: () => number;
  /**
   * No new removal starts with less than this left, in ms. Default: a fifth of the time left at
   * the start, at most 30 000 (one removal's SDK retries, or one security group's pause and call).
   */
  reserveMs?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_DEPENDENCY_ATTEMPTS = 4;
const DEFAULT_DEPENDENCY_DELAY_MS = 15_000;
const DEFAULT_RESERVE_MS = 30_000;
const RESERVE_SHARE = 0.2;

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);
const perKind = (count: (kind: LeftoverKind) => number) =>
  Object.fromEntries(LEFTOVER_KINDS.map((kind) => [kind, count(kind)])) as Record<LeftoverKind, number>;
const executionName = (arn: string): string => arn.split(':').at(-1) ?? arn;

/**
 * Lambda `sweep-leftovers`: find what builds of this stage left behind and remove it (rules in
 * `core/sweep.ts`).
 *
 * 1. Lists the leftovers, keeps the ones provably this stage's, reads each one's execution status
 *    once (`DescribeExecution`; an unreadable one keeps its resources) and which candidate images a
 *    parameter names (fail closed: the store reports every image of a failed scan as named).
 * 2. Removes in order: instances, images (with their snapshots), security groups, key pairs. A
 *    security group still in use (`DependencyViolation`, its instance still shutting down) is tried
 *    again `dependencyAttempts` times, `dependencyDelayMs` apart, then left `deferred`.
 * 3. Stops starting removals when the time budget is spent (`deferred`); a failed removal is
 *    reported and the others proceed. In a dry run nothing is removed (`planned`).
 * 4. Sends one Slack report when anything was removed, planned, deferred or failed; a Slack outage
 *    is recorded in `notification`, never fails the sweep.
 * @returns the report (per-kind counts for the metrics).
 * @throws what listing or the parameter scan throws (nothing was removed then).
 */
export async function sweepLeftovers(
  input: { dryRun?: boolean | undefined },
  ports: {
    leftovers: LeftoverStore;
    executions: ExecutionStatusReader;
    images: Pick<ImageStore, 'imagesReferencedByParameters'>;
    notifier?: Notifier | undefined;
  },
  options: SweepOptions,
): Promise<SweepReport> {
  const dryRun = input.dryRun ?? options.dryRun;
  const now = (options.now ?? (() => new Date()))();
  const sleep = options.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const reserveMs =
    options.reserveMs ?? Math.min(DEFAULT_RESERVE_MS, (options.remainingMs?.() ?? 0) * RESERVE_SHARE);
  const timeLeft = () => options.remainingMs === undefined || options.remainingMs() > reserveMs;

  const owned = ownedLeftovers(await ports.leftovers.list(), options.scope);
  const executions = new Map<string, ExecutionFacts>();
  for (const arn of executionsOf(owned)) {
    executions.set(
      arn,
      await ports.executions.describe(arn).catch((): ExecutionFacts => ({ status: 'UNKNOWN' })),
    );
  }
  const imageIds = owned.filter((r) => r.kind === 'image').map((r) => r.id);
  const referencedImageIds =
    imageIds.length > 0 ? await ports.images.imagesReferencedByParameters(imageIds) : [];
  const plan = planSweep({
    resources: owned,
    executions,
    referencedImageIds,
    now,
    graceMinutes: options.graceMinutes,
  });

  const outcomes: SweepOutcome[] = [];
  for (const decision of plan) outcomes.push(await carryOut(decision));

  const removed = (o: SweepOutcome) => ['removed', 'gone', 'planned'].includes(o.outcome);
  const report: SweepReport = {
    dryRun,
    found: perKind((kind) => outcomes.filter((o) => o.kind === kind).length),
    removed: perKind((kind) => outcomes.filter((o) => o.kind === kind && removed(o)).length),
    failed: outcomes.filter((o) => o.outcome === 'failed').length,
    deferred: outcomes.filter((o) => o.outcome === 'deferred').length,
    outcomes,
    notification: 'skipped',
  };
  if (ports.notifier && outcomes.some((o) => o.outcome !== 'kept')) {
    report.notification = await ports.notifier.notify(sweepNotification(report)).then(
      () => 'sent',
      (error: unknown) => `failed: ${describeError(error)}`,
    );
  }
  return report;

  async function carryOut(decision: SweepDecision): Promise<SweepOutcome> {
    const { resource } = decision;
    const base = {
      kind: resource.kind,
      id: resource.id,
      name: resource.name,
      pipeline: resource.pipeline,
      buildId: resource.buildId,
      execution: executionName(resource.executionArn),
      action: decision.action,
      reason: decision.reason,
    };
    if (decision.action === 'keep') return { ...base, outcome: 'kept' };
    if (dryRun) return { ...base, outcome: 'planned' };
    const attempts =
      resource.kind === 'security-group' ? (options.dependencyAttempts ?? DEFAULT_DEPENDENCY_ATTEMPTS) : 1;
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (!timeLeft())
        return { ...base, outcome: 'deferred', ...(last ? { error: describeError(last) } : {}) };
      try {
        const { outcome, snapshots } = await ports.leftovers.remove(resource);
        return { ...base, outcome, ...(resource.kind === 'image' ? { snapshots } : {}) };
      } catch (error) {
        last = error;
        if ((error as Error).name !== 'DependencyViolation')
          return { ...base, outcome: 'failed', error: describeError(error) };
        if (attempt < attempts) await sleep(options.dependencyDelayMs ?? DEFAULT_DEPENDENCY_DELAY_MS);
      }
    }
    return { ...base, outcome: 'deferred', error: describeError(last) };
  }
}

const KIND_LABELS: Record<LeftoverKind, string> = {
  'test-instance': 'Test instances',
  'build-instance': 'Builder instances',
  image: 'Candidate images',
  'security-group': 'Security groups',
  'key-pair': 'Key pairs',
};

/** The one Slack report of a sweep: counts per kind and one line per resource acted on. */
export function sweepNotification(report: SweepReport): Notification {
  const acted = report.outcomes.filter((o) => o.outcome !== 'kept');
  const done = acted.filter((o) => o.outcome === 'removed' || o.outcome === 'gone').length;
  const builds = new Set(acted.map((o) => o.buildId)).size;
  const title = report.dryRun
    ? `sweeper (dry run): would remove ${acted.length} leftover(s) of ${builds} build(s)`
    : `sweeper: removed ${done} leftover(s) of ${builds} build(s)`;
  return {
    outcome: report.failed > 0 || report.deferred > 0 ? 'failure' : 'success',
    title,
    fields: [
      ...LEFTOVER_KINDS.filter((kind) => report.found[kind] > 0).map((kind) => ({
        label: KIND_LABELS[kind],
        value: `${report.removed[kind]} of ${report.found[kind]} ${report.dryRun ? 'to remove' : 'removed'}`,
      })),
      ...(report.failed > 0 ? [{ label: 'Failed', value: String(report.failed) }] : []),
      ...(report.deferred > 0 ? [{ label: 'Deferred to the next run', value: String(report.deferred) }] : []),
    ],
    detail: acted
      .map(
        (o) =>
          `${o.outcome.padEnd(8)} ${o.kind} ${o.id}${o.name && o.name !== o.id ? ` (${o.name})` : ''} — ${o.pipeline} build ${o.buildId}, execution ${o.execution}${o.error ? ` — ${o.error}` : ''}`,
      )
      .join('\n')
      .slice(0, 2900),
  };
}
