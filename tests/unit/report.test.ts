import { describe, expect, it } from 'vitest';
import type { CostDeployment } from '#commons/core/build-cost.js';
import type { StateRun } from '#commons/core/execution-history.js';
import {
  buildFailureNotification,
  cleanupSummary,
  executionConsoleUrl,
  formatDuration,
  formatSeconds,
  imageConsoleUrl,
  inspectionFields,
  inspectionSummary,
  LOCAL_COST_NOTE,
  retentionSummary,
  timeAndCostFields,
} from '#commons/report.js';

describe('report fields', () => {
  it.each([
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:42Z', '42s'],
    ['2026-01-01T00:00:00Z', '2026-01-01T00:03:05Z', '3m 05s'],
    ['2026-01-01T00:00:00Z', '2026-01-01T02:00:09Z', '2h 00m 09s'],
    ['not a date', '2026-01-01T00:00:00Z', 'unknown'],
  ])('formats the duration from %s to %s as %s', (from, to, text) => {
    expect(formatDuration(from, new Date(to))).toBe(text);
  });

  it('summarises retention, dry run included', () => {
    expect(retentionSummary(undefined)).toBe('not run');
    const outcomes = [
      {
        imageId: 'a',
        action: 'deregister' as const,
        reason: 'expired',
        outcome: 'planned' as const,
        snapshots: [],
      },
      { imageId: 'b', action: 'keep' as const, reason: 'newest', outcome: 'kept' as const, snapshots: [] },
      {
        imageId: 'c',
        action: 'deregister' as const,
        reason: 'expired',
        outcome: 'failed' as const,
        snapshots: [],
      },
    ];
    expect(retentionSummary({ dryRun: true, outcomes })).toBe(
      '1 would be deregistered (dry run), 1 kept, 1 failed',
    );
  });

  it('summarises a shortened report from its counts and says when retention is partial', () => {
    const retention = {
      dryRun: false,
      outcome: 'partial' as const,
      counts: { deregistered: 4000, gone: 2, kept: 7, deferred: 998 },
      outcomes: [],
      warnings: ['998 expired image(s) deferred to the next run (time budget spent)'],
    };
    expect(retentionSummary(retention)).toBe(
      '4002 deregistered, 7 kept, 998 deferred; partial: 998 expired image(s) deferred to the next run (time budget spent)',
    );
    expect(
      retentionSummary({
        dryRun: false,
        outcome: 'partial',
        outcomes: [],
        error: { Error: 'AccessDenied', Cause: '…' },
      }),
    ).toBe('0 deregistered, 0 kept; partial: AccessDenied');
  });

  it('builds the console URL from the execution ARN region', () => {
    expect(executionConsoleUrl('arn:aws:states:us-east-2:1:execution:sm:n')).toBe(
      'https://us-east-2.console.aws.amazon.com/states/home?region=us-east-2#/v2/executions/details/arn%3Aaws%3Astates%3Aus-east-2%3A1%3Aexecution%3Asm%3An',
    );
    expect(executionConsoleUrl(undefined)).toBeUndefined();
  });

  it.each([
    ['a local execution', 'arn:aws:states:local:000000000000:execution:image-factory:n'],
    ['another partition', 'arn:aws-cn:states:cn-north-1:1:execution:sm:n'],
    ['not an ARN', 'n'],
  ])('links no execution console for %s', (_label, arn) => {
    expect(executionConsoleUrl(arn)).toBeUndefined();
    expect(imageConsoleUrl(arn, 'ami-0123456789abcdef0')).toBeUndefined();
  });

  it('builds the AMI console URL in the execution region, for an AMI id only', () => {
    const arn = 'arn:aws:states:eu-west-1:1:execution:sm:n';

    expect(imageConsoleUrl(arn, 'ami-0123456789abcdef0')).toBe(
      'https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#ImageDetails:imageId=ami-0123456789abcdef0',
    );
    expect(imageConsoleUrl(arn, 'local-web-1')).toBeUndefined();
  });

  it.each([
    [0.4, '0s'],
    [59.6, '1m 00s'],
    [3725, '1h 02m 05s'],
    [-3, '0s'],
    [Number.NaN, 'unknown'],
  ])('formats %s seconds as %s', (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text);
  });
});

describe('report: time and cost', () => {
  const COST: CostDeployment = {
    lambdaMemoryGb: 0.25,
    testInstanceType: 't3.small',
    builderInstanceType: 't3.small',
    volumeGb: 8,
    fargate: { vcpu: 1, gb: 2, arch: 'X86_64' },
  };
  const START = Date.parse('2026-01-01T00:00:00Z');
  const run = (name: string, type: string, from: number, to?: number): StateRun => ({
    name,
    type,
    enteredAt: START + from * 1000,
    ...(to === undefined ? {} : { exitedAt: START + to * 1000 }),
  });
  /** 7 phases: the report names the 5 longest and sums the rest as other. */
  const RUNS = [
    run('PrepareBuild', 'Task', 0, 1),
    run('BakeImage', 'Task', 1, 601),
    run('LaunchTestInstance', 'Task', 601, 603),
    run('WaitForInstanceBoot', 'Wait', 603, 663),
    run('ProbeTestInstance', 'Task', 663, 693),
    run('TerminateTestInstance', 'Task', 693, 695),
    run('DistributeImage', 'Map', 695, 700),
    run('AcquirePromotionLease', 'Task', 700, 703),
    run('NotifySuccess', 'Task', 703),
  ];
  const NOW = new Date(START + 705_000);
  const fields = (...args: Parameters<typeof timeAndCostFields>) =>
    Object.fromEntries(timeAndCostFields(...args).map((field) => [field.label, field.value]));

  it('AWS: the total, the longest phases and the estimated cost with its largest lines', () => {
    const result = fields('2026-01-01T00:00:00Z', NOW, {
      runs: { runs: RUNS, startedAt: START },
      backend: { kind: 'aws', cost: COST },
    });

    expect(result.Time).toBe(
      '11m 45s (bake 10m 00s, boot 1m 02s, probe 32s, distribute 5s, promote 3s, other 3s)',
    );
    // Fargate and builder: 600 s; test instance 601 s → 695 s; public IPv4 694 s; other: 9
    // transitions, 6 Lambda runs of 40 s, the test instance, EBS ($0.0011 in all).
    expect(result['Estimated cost']).toBe(
      '$0.0137 (Fargate $0.0082, EC2 builder $0.0035, public IPv4 $0.0010, other $0.0011) at us-east-1 list prices',
    );
    expect(result.Cost).toBeUndefined();
  });

  it('AWS: says when an instance type has no list price (the total is a lower bound)', () => {
    const result = fields('2026-01-01T00:00:00Z', NOW, {
      runs: { runs: RUNS },
      backend: { kind: 'aws', cost: { ...COST, testInstanceType: 'c7i.large' } },
    });

    expect(result['Estimated cost']).toContain('at least: no list price for c7i.large');
  });

  it('AWS: an arm64 build is priced at its own instance types ($.build.instanceTypes), not the x86_64 defaults', () => {
    const result = fields(
      '2026-01-01T00:00:00Z',
      NOW,
      { runs: { runs: RUNS }, backend: { kind: 'aws', cost: COST } },
      { builder: 't4g.small', test: 't4g.micro' },
    );

    expect(result['Estimated cost']).toContain('at least: no list price for t4g.small, t4g.micro');
  });

  it('local: local times, and no AWS cost or console', () => {
    const result = fields('2026-01-01T00:00:00Z', NOW, {
      runs: { runs: RUNS, startedAt: START },
      backend: { kind: 'local' },
    });

    expect(result.Time).toMatch(/^11m 45s \(bake 10m 00s, .*\), local$/);
    expect(result.Cost).toBe(LOCAL_COST_NOTE);
    expect(result['Estimated cost']).toBeUndefined();
  });

  it('without the history: the total from the build start and why the rest is missing', () => {
    const result = fields('2026-01-01T00:00:00Z', NOW, {
      runs: { unavailable: 'history not read (AccessDeniedException)' },
      backend: { kind: 'aws', cost: COST },
    });

    expect(result).toEqual({
      Time: '11m 45s (time per state and cost unavailable: history not read (AccessDeniedException))',
    });
  });

  it('without a run at all: the duration as before', () => {
    expect(fields('2026-01-01T00:00:00Z', NOW, undefined)).toEqual({ Duration: '11m 45s' });
  });
});

describe('failure report: cleanup outcome', () => {
  it('says what cleanup terminated and deregistered', () => {
    expect(
      cleanupSummary({
        terminatedInstanceIds: ['i-1'],
        deregisteredImageId: 'ami-1',
        candidate: 'deregistered',
      }),
    ).toBe('terminated i-1; candidate ami-1 deregistered');
    expect(cleanupSummary({ terminatedInstanceIds: [], deregisteredImageId: null, candidate: 'kept' })).toBe(
      'no test instance to terminate; candidate kept',
    );
  });

  it('warns that test instances may still run when cleanup itself failed', () => {
    // Prepare: the ASL's Catch on CleanupAfterFailure stores {Error, Cause} at $.cleanup.
    const state = { pipeline: 'web', cleanup: { Error: 'UnauthorizedOperation', Cause: 'not allowed' } };

    // Act
    const notification = buildFailureNotification(state, { Error: 'ProbeFailed', Cause: 'health' });

    // Assess
    const cleanup = notification.fields.find((field) => field.label === 'Cleanup');
    expect(cleanup?.value).toMatch(/^FAILED \(UnauthorizedOperation: not allowed\).*may still be running/);
  });

  it('has no cleanup line when cleanup did not run', () => {
    const notification = buildFailureNotification({ pipeline: 'web' }, { Error: 'InvalidInput' });
    expect(notification.fields.map((field) => field.label)).not.toContain('Cleanup');
  });
});

describe('report: package diff and vulnerability gate ($.inspection)', () => {
  const inspection = {
    sbom: 's3://bucket/sboms/web/web-b.cdx.json',
    components: 42,
    packages: 40,
    diff: {
      available: true as const,
      againstImageId: 'ami-0000000000000000a',
      againstSbom: 's3://bucket/sboms/web/web-a.cdx.json',
      counts: { added: 1, removed: 0, upgraded: 1, downgraded: 0, unchanged: 38 },
      summary: '1 added, 0 removed, 1 upgraded, 0 downgraded (38 unchanged)\n+ nginx:amd64 1.22.1-9+deb12u3',
    },
    scanner: 'inspector' as const,
    vulnerabilities: { critical: 0, high: 2, medium: 1, low: 0, info: 0, none: 0, unknown: 0 },
    verdict: {
      outcome: 'pass' as const,
      threshold: 'CRITICAL',
      applied: true,
      blocking: [],
      blockingCount: 0,
      summary: 'passed: no finding at or above CRITICAL (3 findings)',
    },
  };

  it('shows the diff against the previous image and the gate, with the counts per severity', () => {
    expect(inspectionFields(inspection)).toEqual([
      {
        label: 'Packages',
        value:
          '40 (SBOM s3://bucket/sboms/web/web-b.cdx.json); against ami-0000000000000000a: 1 added, 0 removed, 1 upgraded, 0 downgraded (38 unchanged)\n+ nginx:amd64 1.22.1-9+deb12u3',
      },
      {
        label: 'Vulnerabilities',
        value: 'passed: no finding at or above CRITICAL (3 findings) [scanner inspector: 2 high, 1 medium]',
      },
    ]);
    expect(inspectionSummary({ inspection })).toEqual({
      packages: inspectionFields(inspection)[0]?.value,
      vulnerabilities: inspectionFields(inspection)[1]?.value,
    });
  });

  it('says why there is no diff, and that the local gate was not applied', () => {
    const local = {
      ...inspection,
      diff: { available: false as const, reason: 'channel stable of web serves no image yet' },
      scanner: 'none' as const,
      vulnerabilities: null,
      verdict: { ...inspection.verdict, applied: false, summary: 'not applied: no vulnerability database' },
    };
    expect(inspectionFields(local).map((field) => field.value)).toEqual([
      '40 (SBOM s3://bucket/sboms/web/web-b.cdx.json); not available: channel stable of web serves no image yet',
      'not applied: no vulnerability database [scanner none]',
    ]);
    expect(inspectionSummary({})).toEqual({});
    expect(inspectionSummary(null)).toEqual({});
  });

  it('the failure report of a blocked gate carries the fields; the cause lists the findings', () => {
    const blocked = {
      ...inspection,
      verdict: {
        ...inspection.verdict,
        outcome: 'block' as const,
        summary: 'blocked: 1 finding at or above HIGH: CVE-2024-2398 (high) in curl 7.88.1-10+deb12u5',
      },
    };
    const report = buildFailureNotification(
      { pipeline: 'web', inspection: blocked },
      { Error: 'VulnerabilityGateFailed', Cause: blocked.verdict.summary },
    );
    expect(report.title).toBe('web: build failed in InspectCandidate');
    expect(report.fields).toContainEqual({
      label: 'Vulnerabilities',
      value: `${blocked.verdict.summary} [scanner inspector: 2 high, 1 medium]`,
    });
    expect(report.detail).toContain('CVE-2024-2398');
  });
});
