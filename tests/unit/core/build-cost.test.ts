/**
 * The build cost formula (`core/build-cost.ts`) against figures worked out by hand from the price
 * table: 1 vCPU / 2 GB x86 Fargate, t3.small builder and test instance, 8 GiB gp3, 256 MB Lambdas.
 */
import { describe, expect, it } from 'vitest';
import {
  type BuildUsage,
  type CostDeployment,
  estimateBuildCost,
  formatUsd,
} from '#commons/core/build-cost.js';

const DEPLOYMENT: CostDeployment = {
  lambdaMemoryGb: 0.25,
  testInstanceType: 't3.small',
  builderInstanceType: 't3.small',
  volumeGb: 8,
  fargate: { vcpu: 1, gb: 2, arch: 'X86_64' },
};

const USAGE: BuildUsage = {
  transitions: 40,
  lambdaInvocations: 20,
  lambdaSeconds: 20,
  bakeSeconds: 600,
  builderRunningSeconds: 600,
  builderStoppedSeconds: 0,
  testInstanceSeconds: 120,
};

describe('estimateBuildCost', () => {
  it('prices every line at the list prices', () => {
    // Act
    const cost = estimateBuildCost(USAGE, DEPLOYMENT);

    // Assess: 40 × $0.025/1000; 20 s × 0.25 GB × $0.0000133334 + 20 × $0.2/1M; 600 s × ($0.04048 +
    // 2 × $0.004445)/h; 600 s and 120 s × $0.0208/h; 8 GB × $0.08 × 720 s / 3600 / 730; 720 s × $0.005/h.
    expect(cost.items['Step Functions']).toBeCloseTo(0.001, 9);
    expect(cost.items.Lambda).toBeCloseTo(0.0000706668, 9);
    expect(cost.items.Fargate).toBeCloseTo(0.0082283333, 9);
    expect(cost.items['EC2 builder']).toBeCloseTo(0.0034666667, 9);
    expect(cost.items['EC2 test']).toBeCloseTo(0.0006933333, 9);
    expect(cost.items['EBS gp3']).toBeCloseTo(0.0001753425, 9);
    expect(cost.items['public IPv4']).toBeCloseTo(0.001, 9);
    expect(cost.total).toBeCloseTo(0.0146343426, 9);
    expect(cost.unpriced).toEqual([]);
  });

  it.each([
    [
      'a 30 s test instance is billed a minute',
      { testInstanceSeconds: 30 },
      'EC2 test',
      (60 / 3600) * 0.0208,
    ],
    ['a test instance that never ran costs nothing', { testInstanceSeconds: 0 }, 'EC2 test', 0],
    ['a bake that never ran costs nothing', { bakeSeconds: 0 }, 'Fargate', 0],
    ['a negative time counts as none', { bakeSeconds: -5 }, 'Fargate', 0],
  ] as const)('%s', (_label, change, item, usd) => {
    expect(estimateBuildCost({ ...USAGE, ...change }, DEPLOYMENT).items[item]).toBeCloseTo(usd, 12);
  });

  it('prices an Arm Fargate task at the Arm rates', () => {
    const cost = estimateBuildCost(USAGE, { ...DEPLOYMENT, fargate: { vcpu: 1, gb: 2, arch: 'ARM64' } });

    // 600 s × ($0.03238 + 2 × $0.00356)/h
    expect(cost.items.Fargate).toBeCloseTo(0.0065833333, 9);
  });

  it('names an instance type without a list price instead of guessing it (the total is then a lower bound)', () => {
    const cost = estimateBuildCost(USAGE, { ...DEPLOYMENT, builderInstanceType: 'm7g.large' });

    expect(cost.unpriced).toEqual(['m7g.large']);
    expect(cost.items['EC2 builder']).toBe(0);
    expect(cost.total).toBeCloseTo(0.0146343426 - 0.0034666667, 9);
  });

  it('formats dollars with four decimals', () => {
    expect(formatUsd(0.0146343)).toBe('$0.0146');
    expect(formatUsd(0)).toBe('$0.0000');
  });
});
