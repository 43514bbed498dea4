import { describe, expect, it } from 'vitest';
import {
  buildFailureNotification,
  cleanupSummary,
  executionConsoleUrl,
  formatDuration,
  retentionSummary,
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
