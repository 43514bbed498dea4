/**
 * The `$.retention` report: counts over every image, a bounded list of per-image outcomes and the
 * overall outcome. Pure.
 *
 * The list is bounded because a task's output is part of the execution state, which Step Functions
 * caps at 262,144 bytes (https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html,
 * "Maximum input or output size for a task, state, or execution"). A backlog of thousands of images
 * would otherwise fail the task after the work was done.
 */
import type { Retention } from '../schemas.js';

export type RetentionOutcomeEntry = Retention['outcomes'][number];

/** Most per-image outcomes reported (about 200 bytes each, so at most ~40 KB of state). */
export const MAX_REPORTED_OUTCOMES = 200;

/** Which outcomes make the report when it must be shortened: the most actionable first. */
const PRIORITY: Record<RetentionOutcomeEntry['outcome'], number> = {
  failed: 0,
  deferred: 1,
  deregistered: 2,
  gone: 3,
  planned: 4,
  kept: 5,
};

/**
 * Build the report from one outcome per image (given newest first).
 * `outcome` is `partial` when any image failed or was deferred: the next run picks them up.
 * @returns the report; `outcomes` keeps the input order, shortened to `limit` entries by priority.
 */
export const retentionReport = (
  entries: readonly RetentionOutcomeEntry[],
  options: { dryRun: boolean; warnings?: readonly string[]; limit?: number },
): Retention => {
  const limit = options.limit ?? MAX_REPORTED_OUTCOMES;
  const counts: Record<string, number> = {};
  for (const entry of entries) counts[entry.outcome] = (counts[entry.outcome] ?? 0) + 1;
  const chosen = new Set(
    entries
      .map((entry, index) => ({ entry, index }))
      .sort((a, b) => PRIORITY[a.entry.outcome] - PRIORITY[b.entry.outcome] || a.index - b.index)
      .slice(0, limit)
      .map(({ index }) => index),
  );
  const warnings = [...(options.warnings ?? [])];
  if ((counts.failed ?? 0) > 0)
    warnings.push(`${counts.failed} deregistration(s) failed; the next run retries them`);
  if ((counts.deferred ?? 0) > 0)
    warnings.push(`${counts.deferred} expired image(s) deferred to the next run (time budget spent)`);
  return {
    dryRun: options.dryRun,
    outcome: (counts.failed ?? 0) + (counts.deferred ?? 0) > 0 ? 'partial' : 'complete',
    counts,
    outcomes: entries.filter((_, index) => chosen.has(index)),
    omitted: entries.length - chosen.size,
    warnings,
  };
};
