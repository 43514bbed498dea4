import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildId, EXECUTION_NAME_MAX_LENGTH, executionName, launchToken } from '#commons/core/build-key.js';

const KEY = { pipeline: 'web', sourceImageId: 'ami-0123456789abcdef0', commit: 'a'.repeat(40) };

describe('build key', () => {
  it('is readable and stable', () => {
    expect(executionName(KEY)).toMatch(/^web-ami-0123456789abcdef0-aaaaaaa-[0-9a-f]{8}$/);
    expect(executionName(KEY)).toBe(executionName({ ...KEY }));
    expect(buildId(KEY)).toMatch(/^web-[0-9a-f]{12}$/);
  });

  it('uses "head" when no commit is pinned, distinct from any commit', () => {
    const { commit: _omit, ...noCommit } = KEY;
    expect(executionName(noCommit)).toContain('-head-');
    expect(executionName(noCommit)).not.toBe(executionName(KEY));
  });

  it.each([
    ['pipeline', { ...KEY, pipeline: 'api' }],
    ['source AMI', { ...KEY, sourceImageId: 'ami-0123456789abcdef1' }],
    ['commit', { ...KEY, commit: 'b'.repeat(40) }],
  ])('changes when the %s changes', (_label, other) => {
    expect(executionName(other)).not.toBe(executionName(KEY));
    expect(buildId(other)).not.toBe(buildId(KEY));
  });

  it('launch token is 64 hex, differs per execution of the same build', () => {
    const token = launchToken({ buildId: 'web-1', executionName: 'manual-1' });
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(launchToken({ buildId: 'web-1', executionName: 'manual-2' })).not.toBe(token);
  });

  it('always yields a valid Step Functions execution name (1-80 chars of [A-Za-z0-9-_])', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 120 }),
        fc.string({ maxLength: 60 }),
        fc.option(fc.string({ maxLength: 60 })),
        (pipeline, sourceImageId, commit) => {
          const name = executionName({ pipeline, sourceImageId, commit: commit ?? undefined });
          expect(name.length).toBeGreaterThanOrEqual(1);
          expect(name.length).toBeLessThanOrEqual(EXECUTION_NAME_MAX_LENGTH);
          expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps distinct names for distinct long inputs that share a truncated prefix', () => {
    const long = 'p'.repeat(100);
    expect(executionName({ ...KEY, pipeline: `${long}a` })).not.toBe(
      executionName({ ...KEY, pipeline: `${long}b` }),
    );
  });
});
