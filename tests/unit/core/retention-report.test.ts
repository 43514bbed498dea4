import { describe, expect, it } from 'vitest';
import {
  MAX_REPORTED_OUTCOMES,
  type RetentionOutcomeEntry,
  retentionReport,
} from '#commons/core/retention-report.js';

const entry = (index: number, outcome: RetentionOutcomeEntry['outcome']): RetentionOutcomeEntry => ({
  imageId: `ami-${String(index).padStart(17, '0')}`,
  action: outcome === 'kept' ? 'keep' : 'deregister',
  reason: outcome === 'kept' ? 'newest' : 'expired',
  outcome,
  snapshots: [],
});

describe('retentionReport', () => {
  it('is complete when everything planned was done or found gone', () => {
    const report = retentionReport([entry(1, 'kept'), entry(2, 'deregistered'), entry(3, 'gone')], {
      dryRun: false,
    });
    expect(report).toMatchObject({
      outcome: 'complete',
      counts: { kept: 1, deregistered: 1, gone: 1 },
      omitted: 0,
      warnings: [],
    });
    expect(report.outcomes.map((o) => o.outcome)).toEqual(['kept', 'deregistered', 'gone']);
  });

  it.each<RetentionOutcomeEntry['outcome']>(['failed', 'deferred'])(
    'is partial, with a warning, when an image is %s',
    (outcome) => {
      const report = retentionReport([entry(1, 'deregistered'), entry(2, outcome)], { dryRun: false });
      expect(report.outcome).toBe('partial');
      expect(report.warnings).toEqual([expect.stringContaining('next run')]);
    },
  );

  it('bounds the list, keeping failures and deferrals first, in the original order', () => {
    // Prepare: 5000 images, the interesting ones at the end
    const entries = [
      ...Array.from({ length: 4000 }, (_, i) => entry(i, 'kept')),
      ...Array.from({ length: 995 }, (_, i) => entry(4000 + i, 'deregistered')),
      entry(4995, 'failed'),
      entry(4996, 'deferred'),
      entry(4997, 'failed'),
      entry(4998, 'gone'),
      entry(4999, 'kept'),
    ];

    // Act
    const report = retentionReport(entries, { dryRun: false });

    // Assess
    expect(report.outcomes).toHaveLength(MAX_REPORTED_OUTCOMES);
    expect(report.omitted).toBe(5000 - MAX_REPORTED_OUTCOMES);
    expect(report.outcomes.slice(-3).map((o) => o.outcome)).toEqual(['failed', 'deferred', 'failed']);
    expect(report.outcomes.filter((o) => o.outcome === 'kept')).toEqual([]);
    expect(report.counts).toEqual({ kept: 4001, deregistered: 995, failed: 2, deferred: 1, gone: 1 });
    expect(JSON.stringify(report).length).toBeLessThan(262_144 / 4);
  });
});
