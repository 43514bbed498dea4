import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildId,
  EXECUTION_NAME_MAX_LENGTH,
  executionArnOf,
  executionName,
  isBuildOfExecution,
  launchToken,
} from '#commons/core/build-key.js';

const KEY = {
  pipeline: 'web',
  channel: 'stable',
  sourceImageId: 'ami-0123456789abcdef0',
  commit: 'a'.repeat(40),
};
const DEV = 'arn:aws:states:eu-west-1:123456789012:stateMachine:golden-image-factory-dev';
const PROD = 'arn:aws:states:eu-west-1:123456789012:stateMachine:golden-image-factory-prod';

describe('build key', () => {
  it('is readable and stable', () => {
    expect(executionName(KEY)).toMatch(/^web-stable-ami-0123456789abcdef0-aaaaaaa-[0-9a-f]{8}$/);
    expect(executionName(KEY)).toBe(executionName({ ...KEY }));
    expect(buildId({ pipeline: 'web', executionArn: executionArnOf(DEV, executionName(KEY)) })).toMatch(
      /^web-[0-9a-f]{12}$/,
    );
  });

  it('names an arm64 build apart, and an x86_64 build as before architectures', () => {
    const arm = executionName({ ...KEY, architecture: 'arm64' });
    expect(arm).toMatch(/^web-arm64-stable-ami-0123456789abcdef0-aaaaaaa-[0-9a-f]{8}$/);
    expect(arm).not.toBe(executionName(KEY));
    // Pinned: the name an x86_64 build had before architectures existed (same hash input).
    expect(executionName({ ...KEY, architecture: 'x86_64' })).toBe(executionName(KEY));
    // sha256 of ["web","stable","ami-0123456789abcdef0","aaa…a",1], as computed before architectures.
    expect(executionName(KEY)).toBe('web-stable-ami-0123456789abcdef0-aaaaaaa-9d573deb');
  });

  it('uses "head" when no commit is pinned, distinct from any commit', () => {
    const { commit: _omit, ...noCommit } = KEY;
    expect(executionName(noCommit)).toContain('-head-');
    expect(executionName(noCommit)).not.toBe(executionName(KEY));
  });

  it.each([
    ['pipeline', { ...KEY, pipeline: 'api' }],
    ['channel', { ...KEY, channel: 'beta' }],
    ['architecture', { ...KEY, architecture: 'arm64' as const }],
    ['source AMI', { ...KEY, sourceImageId: 'ami-0123456789abcdef1' }],
    ['commit', { ...KEY, commit: 'b'.repeat(40) }],
    ['attempt', { ...KEY, attempt: 2 }],
  ])('changes when the %s changes', (_label, other) => {
    expect(executionName(other)).not.toBe(executionName(KEY));
  });

  it('shows the attempt from the second on, and attempt 1 is the default', () => {
    expect(executionName({ ...KEY, attempt: 1 })).toBe(executionName(KEY));
    expect(executionName({ ...KEY, attempt: 3 })).toMatch(/-aaaaaaa-r3-[0-9a-f]{8}$/);
  });

  it('gives the same execution name in two stages different build ids', () => {
    const name = executionName(KEY);
    const dev = buildId({ pipeline: 'web', executionArn: executionArnOf(DEV, name) });
    const prod = buildId({ pipeline: 'web', executionArn: executionArnOf(PROD, name) });
    expect(dev).not.toBe(prod);
    expect(isBuildOfExecution(dev, 'web', executionArnOf(DEV, name))).toBe(true);
    expect(isBuildOfExecution(dev, 'web', executionArnOf(PROD, name))).toBe(false);
    expect(isBuildOfExecution(dev, 'api', executionArnOf(DEV, name))).toBe(false);
  });

  it('refuses a state machine ARN that is not one', () => {
    expect(() => executionArnOf('arn:aws:lambda:eu-west-1:123456789012:function:x', 'n')).toThrow(
      /not a state machine ARN/,
    );
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
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 60 }),
        fc.option(fc.string({ maxLength: 60 })),
        fc.integer({ min: 1, max: 99 }),
        (pipeline, channel, sourceImageId, commit, attempt) => {
          const name = executionName({
            pipeline,
            channel,
            sourceImageId,
            commit: commit ?? undefined,
            attempt,
          });
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
