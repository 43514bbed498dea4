/**
 * The AWS model's evaluation of one execution: the checks each poll needs under given wait
 * settings, the path and timeline from the ASL (`aws-model-path.ts`), and its cost at the list
 * prices of `functions/commons/core/build-cost.ts`. Used by `bench/aws-model.ts`.
 */
import { type CostDeployment, estimateBuildCost } from '#commons/core/build-cost.js';
import type { PollLoop } from '#statemachines/definition.js';
import { LAMBDA_INIT, LAMBDA_TASKS, ONLINE_AFTER, PROBE_RUN, type Scenario } from './aws-model-inputs.js';
import { checksUntil, type Timeline, timeline, visitedStates } from './aws-model-path.js';

/** Deployment facts the model reads from serverless.yml and the Packer variables. */
export interface Deployment extends CostDeployment {
  handlerBounds: Record<string, number>;
  watchMinutes: number;
}

/** One evaluated execution: its timeline and costs, or the poll bound that ends it. */
export interface Run {
  t: Timeline;
  cost: Record<string, number>;
  /** Per poll loop (by check state): checks that did not see the condition, and seconds from the
   * end of the loop's entry state to the end of the check that saw it. */
  polls: Record<string, { failed: number; seen: number }>;
}

/** The model's costs: the shared formula (`core/build-cost.ts`); a type without a list price stops the model. */
function costs(t: Timeline, d: Deployment): Record<string, number> {
  const cost = estimateBuildCost(t, d);
  if (cost.unpriced.length > 0)
    throw new Error(
      `no On-Demand price for ${cost.unpriced.join(', ')} in functions/commons/core/build-cost.ts`,
    );
  return { ...cost.items, total: cost.total };
}

/**
 * Evaluates one execution: the checks needed follow from the wait settings; the path comes from
 * the ASL. Returns undefined when a poll would hit its bound (the build fails instead).
 */
export async function evaluate(
  scenario: Scenario,
  onlineAfter: number,
  waits: Record<string, number>,
  loops: Record<string, PollLoop>,
  d: Deployment,
): Promise<Run | undefined> {
  const ready: Record<string, number> = {
    CheckInstanceOnline: onlineAfter,
    CheckProbeResult: PROBE_RUN[scenario],
  };
  const counts: Record<string, number> = {};
  for (const loop of Object.values(loops)) {
    const first = loop.firstWait === undefined ? 0 : (waits[loop.firstWait] as number);
    const check = (LAMBDA_TASKS[loop.check] ?? LAMBDA_INIT)[scenario];
    counts[loop.check] = checksUntil(ready[loop.check] as number, first, waits[loop.wait] as number, check);
  }
  // The first call of a function carries its cold start: step the counts until the timeline agrees.
  for (let round = 0; round < 10; round += 1) {
    for (const [check, count] of Object.entries(counts)) {
      if (count > Math.min(loops[check]?.maxAttempts ?? 0, d.handlerBounds[check] ?? Infinity))
        return undefined;
    }
    const visited = await visitedStates(
      counts.CheckInstanceOnline as number,
      counts.CheckProbeResult as number,
    );
    const t = timeline(visited, scenario, waits, Object.values(loops));
    let settled = true;
    for (const [check, count] of Object.entries(counts)) {
      const starts = t.checkStarts[check] ?? [];
      if ((starts[count - 1] as number) < (ready[check] as number)) counts[check] = count + 1;
      else if (count > 1 && (starts[count - 2] as number) >= (ready[check] as number))
        counts[check] = count - 1;
      else continue;
      settled = false;
    }
    if (!settled) continue;
    const polls = Object.fromEntries(
      Object.entries(counts).map(([check, count]) => [
        check,
        {
          failed: count - 1,
          seen:
            (t.checkStarts[check]?.[count - 1] as number) + (LAMBDA_TASKS[check] ?? LAMBDA_INIT)[scenario],
        },
      ]),
    );
    return { t, cost: costs(t, d), polls };
  }
  throw new Error('the check counts did not settle');
}

/** Weighted mean over the boot-to-Online distribution of a measure of the runs (undefined if any fails). */
export async function expectation(
  scenario: Scenario,
  waits: Record<string, number>,
  loops: Record<string, PollLoop>,
  d: Deployment,
): Promise<((measure: (run: Run) => number) => number) | undefined> {
  const runs = await Promise.all(
    ONLINE_AFTER.value.map(async ({ seconds, weight }) => ({
      weight,
      run: await evaluate(scenario, seconds, waits, loops, d),
    })),
  );
  if (runs.some(({ run }) => run === undefined)) return undefined;
  return (measure) => runs.reduce((sum, { weight, run }) => sum + weight * measure(run as Run), 0);
}
