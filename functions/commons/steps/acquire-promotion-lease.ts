import { PROMOTION_LEASE_TTL_SECONDS } from '../core/promotion-lease.js';
import type { PromotionLease, PromotionLedger } from '../ports.js';
import type { Build } from '../schemas.js';

/**
 * State `AcquirePromotionLease`: take the lease of the build's (stage, pipeline, channel) for its
 * execution, so that no other execution promotes the channel until PromoteImage has finished
 * (ReleasePromotionLease on success, CleanupAfterFailure on failure) or the lease lapses.
 * @returns `$.promotionLease` `{ key, holder, expiresAt }`.
 * @throws PromotionLeaseHeld while another execution holds it (the ASL retries with backoff).
 */
export async function acquirePromotionLease(
  input: { build: Build },
  ports: { ledger: PromotionLedger },
  options: { ttlSeconds?: number } = {},
): Promise<PromotionLease> {
  return ports.ledger.acquire(
    input.build.pipeline,
    input.build.channel,
    input.build.executionName,
    options.ttlSeconds ?? PROMOTION_LEASE_TTL_SECONDS,
  );
}
