import { describe, expect, it } from 'vitest';
import {
  bodyByteLength,
  isCodeCommitRepositoryAllowed,
  isGitHubRepositoryAllowed,
  parseRepositoryAllowList,
} from '#commons/core/trigger-guards.js';

const ARN = 'arn:aws:codecommit:eu-west-1:123456789012:image-factory';

describe('repository allow-list', () => {
  const list = parseRepositoryAllowList(` Acme/Image-Factory ,${ARN},, `);

  it.each([
    ['acme/image-factory', true],
    ['ACME/IMAGE-FACTORY', true],
    ['acme/image-factory-fork', false],
    ['mallory/image-factory', false],
  ])('GitHub %s → %s (case-insensitive full_name)', (fullName, allowed) => {
    expect(isGitHubRepositoryAllowed(list, fullName)).toBe(allowed);
  });

  it.each([
    [ARN, true],
    ['arn:aws:codecommit:eu-west-1:210987654321:image-factory', false],
    ['arn:aws:codecommit:us-east-1:123456789012:image-factory', false],
    [undefined, false],
  ])('CodeCommit %s → %s (exact ARN)', (arn, allowed) => {
    expect(isCodeCommitRepositoryAllowed(list, arn)).toBe(allowed);
  });

  it('accepts nothing when empty (fail closed)', () => {
    const empty = parseRepositoryAllowList('');
    expect(isGitHubRepositoryAllowed(empty, 'acme/image-factory')).toBe(false);
    expect(isCodeCommitRepositoryAllowed(empty, ARN)).toBe(false);
  });

  it.each(['https://github.com/acme/x.git', 'acme', 'arn:aws:s3:::bucket', 'a/b/c'])(
    'refuses the entry %s with a clear error',
    (entry) => {
      expect(() => parseRepositoryAllowList(`acme/x,${entry}`)).toThrow(
        new RegExp(
          `ALLOWED_REPOSITORIES has an invalid entry "${entry.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`,
        ),
      );
    },
  );
});

describe('bodyByteLength', () => {
  it.each(['', 'a', 'ab', 'abc', 'abcd', 'héllo wörld ✓', 'x'.repeat(1001)])(
    'counts %j the same as text and as base64',
    (text) => {
      const bytes = Buffer.byteLength(text, 'utf8');
      expect(bodyByteLength(text, false)).toBe(bytes);
      expect(bodyByteLength(Buffer.from(text, 'utf8').toString('base64'), true)).toBe(bytes);
    },
  );

  it('counts an absent body as 0', () => {
    expect(bodyByteLength(undefined, true)).toBe(0);
  });
});
