/**
 * The AWS model's evaluation of one execution: the checks each poll needs under given wait
 * settings, the path and timeline from the ASL (`aws-model-path.ts`), and its cost at the list
 * prices of `aws-model-inputs.ts`. Used by `bench/aws-model.ts`.
 */
import type { PollLoop } from '#statemachines/definition.js';
import {
  LAMBDA_INIT,
  LAMBDA_TASKS,
  ONLINE_AFTER,
  PRICES,
  PROBE_RUN,
  type Scenario,
} from './aws-model-inputs.js';
import { checksUntil, type Timeline, timeline, visitedStates } from './aws-model-path.js';

/** Deployment facts the model reads from serverless.yml and the Packer variables. */
export interface Deployment {
  lambdaMemoryGb: number;
  handlerBounds: Record<string, number>;
  testInstanceType: string;
  builderInstanceType: string;
  volumeGb: number;
  fargate: { vcpu: number; gb: number; arch: 'X86_64' | 'ARM64' };
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

const HOURS_PER_MONTH = 730;

function costs(t: Timeline, d: Deployment): Record<string, number> {
  const hour = (seconds: number) => Math.max(60, seconds) / 3600;
  const ec2 = (type: string) => {
    const price = PRICES.ec2Hour.value[type];
    if (price === undefined) throw new Error(`no On-Demand price for ${type} in bench/aws-model-inputs.ts`);
    return price;
  };
  const volumeSeconds = t.builderRunningSeconds + t.builderStoppedSeconds + t.testInstanceSeconds;
  const cost = {
    'Step Functions': t.transitions * PRICES.stateTransition.value,
    Lambda:
      t.lambdaSeconds * d.lambdaMemoryGb * PRICES.lambdaArmGbSecond.value +
      t.lambdaInvocations * PRICES.lambdaRequest.value,
    Fargate:
      hour(t.bakeSeconds) *
      (d.fargate.vcpu * PRICES.fargateVcpuHour.value[d.fargate.arch] +
        d.fargate.gb * PRICES.fargateGbHour.value[d.fargate.arch]),
    'EC2 builder': hour(t.builderRunningSeconds) * ec2(d.builderInstanceType),
    'EC2 test': hour(t.testInstanceSeconds) * ec2(d.testInstanceType),
    'EBS gp3': (d.volumeGb * PRICES.ebsGp3GbMonth.value * volumeSeconds) / 3600 / HOURS_PER_MONTH,
    'public IPv4': ((t.builderRunningSeconds + t.testInstanceSeconds) / 3600) * PRICES.publicIpv4Hour.value,
  };
  return { ...cost, total: Object.values(cost).reduce((sum, value) => sum + value, 0) };
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
