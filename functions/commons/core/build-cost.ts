/**
 * Estimated cost of one build at AWS list prices: the price table (with its sources) and the
 * formula, shared by the AWS model (`bench/aws-model-run.ts`, modelled durations), the build
 * report (`report.ts`, durations read from the execution's history) and `factory status`. Pure.
 *
 * Prices are us-east-1 on-demand list prices (Linux), read from the AWS pricing pages cited in
 * each entry on 2026-11-30 (when the table was written for `npm run bench:aws-model`); other
 * regions differ by a few percent. The estimate is a list-price figure, not a bill: no free tier,
 * Savings Plans, taxes, data transfer or CloudWatch/X-Ray; AMI snapshot storage is per month
 * while an image is retained, not per build. README "Cost estimate" shows the table.
 */

/** On-demand list prices, US East (N. Virginia), USD. */
export const PRICES = {
  stateTransition: {
    value: 0.025 / 1000,
    source:
      'Step Functions Standard: $0.025 per 1,000 state transitions, retries included (https://aws.amazon.com/step-functions/pricing/)',
  },
  lambdaArmGbSecond: {
    value: 0.0000133334,
    source: 'Lambda Arm: $0.0000133334 per GB-second, init included (https://aws.amazon.com/lambda/pricing/)',
  },
  lambdaRequest: {
    value: 0.2 / 1e6,
    source: 'Lambda: $0.20 per 1M requests (https://aws.amazon.com/lambda/pricing/)',
  },
  fargateVcpuHour: {
    value: { X86_64: 0.04048, ARM64: 0.03238 },
    source:
      'Fargate Linux: $0.04048 (x86) / $0.03238 (Arm) per vCPU-hour, per second, 1-minute minimum (https://aws.amazon.com/fargate/pricing/)',
  },
  fargateGbHour: {
    value: { X86_64: 0.004445, ARM64: 0.00356 },
    source:
      'Fargate Linux: $0.004445 (x86) / $0.00356 (Arm) per GB-hour (https://aws.amazon.com/fargate/pricing/)',
  },
  ec2Hour: {
    value: { 't3.micro': 0.0104, 't3.small': 0.0208, 't3.medium': 0.0416, 't3.large': 0.0832 } as Readonly<
      Record<string, number>
    >,
    source:
      'EC2 On-Demand Linux, per second with a 60 s minimum (https://aws.amazon.com/ec2/pricing/on-demand/)',
  },
  ebsGp3GbMonth: {
    value: 0.08,
    source: 'EBS gp3: $0.08 per GB-month, per second (https://aws.amazon.com/ebs/pricing/)',
  },
  publicIpv4Hour: {
    value: 0.005,
    source:
      'public IPv4 address: $0.005 per hour, when the subnet assigns one (https://aws.amazon.com/vpc/pricing/)',
  },
} as const;

/** Hours in a month, as AWS prorates per-month prices (EBS). */
export const HOURS_PER_MONTH = 730;

/** The cost lines of a build, in report order. */
export const COST_ITEMS = [
  'Step Functions',
  'Lambda',
  'Fargate',
  'EC2 builder',
  'EC2 test',
  'EBS gp3',
  'public IPv4',
] as const;
export type CostItem = (typeof COST_ITEMS)[number];

/** What a build used, in seconds and counts (from a model, or from an execution's history). */
export interface BuildUsage {
  /** States entered (each is one billed state transition). */
  transitions: number;
  lambdaInvocations: number;
  /** Billed Lambda seconds (init included), summed over invocations. */
  lambdaSeconds: number;
  /** The Fargate Packer task (BakeImage). */
  bakeSeconds: number;
  /** The builder instance while running (EC2 and public IPv4 are billed) and stopped (EBS only). */
  builderRunningSeconds: number;
  builderStoppedSeconds: number;
  /** The test instance, launch to termination. */
  testInstanceSeconds: number;
}

/** The deployment's sizes that prices apply to. */
export interface CostDeployment {
  /** Memory of the task Lambdas, GB (MB / 1024). */
  lambdaMemoryGb: number;
  testInstanceType: string;
  builderInstanceType: string;
  /** Root volume of the builder and of the test instance, GiB (gp3). */
  volumeGb: number;
  /** The Fargate Packer task: vCPU (CPU units / 1024), memory GB (MiB / 1024), CPU architecture. */
  fargate: { vcpu: number; gb: number; arch: 'X86_64' | 'ARM64' };
}

/** A build's estimated cost in USD per line, and its total. */
export interface BuildCost {
  items: Record<CostItem, number>;
  total: number;
  /**
   * Instance types the table has no price for: their EC2 line is 0 and the total is a lower
   * bound. Empty when every line is priced.
   */
  unpriced: string[];
}

/**
 * The cost of one build at the list prices of {@link PRICES}. Fargate and EC2 are billed per
 * second with a one-minute minimum (so are these lines); EBS per GB-month prorated per second;
 * public IPv4 per hour of an instance that has one (builder and test instance are assumed to).
 * A resource that did not run (0 s) costs nothing. Lambda is priced as Arm (the stack's functions are arm64).
 * @param usage seconds and counts; negative values are treated as 0.
 * @returns every line of {@link COST_ITEMS}; an instance type missing from the table is listed in
 *   `unpriced` (its line is 0), never guessed.
 */
export function estimateBuildCost(usage: BuildUsage, deployment: CostDeployment): BuildCost {
  const u = Object.fromEntries(
    Object.entries(usage).map(([key, value]) => [key, Math.max(0, value)]),
  ) as unknown as BuildUsage;
  // Nothing is billed for a resource that never ran (a build that failed before the bake).
  const billedHours = (seconds: number) => (seconds > 0 ? Math.max(60, seconds) / 3600 : 0);
  const unpriced: string[] = [];
  const ec2 = (type: string): number => {
    const price = PRICES.ec2Hour.value[type];
    if (price !== undefined) return price;
    if (!unpriced.includes(type)) unpriced.push(type);
    return 0;
  };
  const { fargate } = deployment;
  const volumeSeconds = u.builderRunningSeconds + u.builderStoppedSeconds + u.testInstanceSeconds;
  const items: Record<CostItem, number> = {
    'Step Functions': u.transitions * PRICES.stateTransition.value,
    Lambda:
      u.lambdaSeconds * deployment.lambdaMemoryGb * PRICES.lambdaArmGbSecond.value +
      u.lambdaInvocations * PRICES.lambdaRequest.value,
    Fargate:
      billedHours(u.bakeSeconds) *
      (fargate.vcpu * PRICES.fargateVcpuHour.value[fargate.arch] +
        fargate.gb * PRICES.fargateGbHour.value[fargate.arch]),
    'EC2 builder': billedHours(u.builderRunningSeconds) * ec2(deployment.builderInstanceType),
    'EC2 test': billedHours(u.testInstanceSeconds) * ec2(deployment.testInstanceType),
    'EBS gp3': (deployment.volumeGb * PRICES.ebsGp3GbMonth.value * volumeSeconds) / 3600 / HOURS_PER_MONTH,
    'public IPv4': ((u.builderRunningSeconds + u.testInstanceSeconds) / 3600) * PRICES.publicIpv4Hour.value,
  };
  return { items, total: Object.values(items).reduce((sum, value) => sum + value, 0), unpriced };
}

/** `$0.0123` (four decimals: a build costs cents). */
export const formatUsd = (usd: number): string => `$${usd.toFixed(4)}`;
