import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyGitHubSignature } from '#commons/core/webhook-signature.js';

// GitHub Docs, "Validating webhook deliveries" — published test values.
const SECRET = "It's a Secret to Everybody";
const PAYLOAD = 'Hello, World!';
const SIGNATURE = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

describe('verifyGitHubSignature', () => {
  it('accepts the GitHub published test vector', () => {
    expect(verifyGitHubSignature(SECRET, PAYLOAD, SIGNATURE)).toBe(true);
    expect(verifyGitHubSignature(SECRET, Buffer.from(PAYLOAD), SIGNATURE)).toBe(true);
  });

  it('accepts an upper-case hex digest', () => {
    expect(verifyGitHubSignature(SECRET, PAYLOAD, `sha256=${SIGNATURE.slice(7).toUpperCase()}`)).toBe(true);
  });

  it.each([
    ['missing header', undefined],
    ['empty header', ''],
    ['no prefix', SIGNATURE.slice(7)],
    ['sha1 prefix', `sha1=${SIGNATURE.slice(7)}`],
    ['truncated digest', SIGNATURE.slice(0, -2)],
    ['extended digest', `${SIGNATURE}00`],
    ['one digit changed', `${SIGNATURE.slice(0, -1)}f`],
    ['non-hex digest', `sha256=${'z'.repeat(64)}`],
  ])('rejects a %s', (_label, header) => {
    expect(verifyGitHubSignature(SECRET, PAYLOAD, header)).toBe(false);
  });

  it('rejects a signature made with another secret (forged)', () => {
    const forged = `sha256=${createHmac('sha256', 'guessed').update(PAYLOAD).digest('hex')}`;
    expect(verifyGitHubSignature(SECRET, PAYLOAD, forged)).toBe(false);
  });

  it('rejects a valid signature over a different body', () => {
    expect(verifyGitHubSignature(SECRET, 'Hello, World?', SIGNATURE)).toBe(false);
  });
});
