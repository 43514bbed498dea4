/**
 * GitHub webhook signature check. Pure (HMAC computation only).
 *
 * GitHub sends `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw request body, keyed with
 * the webhook secret>`; compare in constant time. Source: GitHub Docs, "Validating webhook
 * deliveries", https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256=';
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Verify `signatureHeader` for `rawBody`.
 * @param rawBody the exact bytes GitHub sent (decode a base64 function-URL body first).
 * @returns false for a missing, malformed, truncated or forged signature; never throws.
 */
export const verifyGitHubSignature = (
  secret: string,
  rawBody: string | Buffer,
  signatureHeader: string | undefined,
): boolean => {
  if (!signatureHeader?.startsWith(PREFIX)) return false;
  const received = signatureHeader.slice(PREFIX.length).toLowerCase();
  if (!HEX_SHA256.test(received)) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(received, 'hex');
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
};
