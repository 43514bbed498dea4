import { laneTrack } from '../core/architectures.js';
import { PROMOTION_LEASE_TTL_SECONDS } from '../core/promotion-lease.js';
import type { PromotionLease, PromotionLedger } from '../ports.js';
import type { Build } from '../schemas.js';

/**
 * State `AcquirePromotionLease`: take the lease of the build's (stage, track, channel) for its
 * execution (track: pipeline and architecture, `core/architectures.ts`), so that no other execution promotes the channel until PromoteImage has finished
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
    laneTrack(input.build),
    input.build.channel,
    input.build.executionName,
    options.ttlSeconds ?? PROMOTION_LEASE_TTL_SECONDS,
  );
}

/**
 * Run `work` while `holder` holds the channel's promotion lease, and give the lease back on every
 * path (rollback-channel, `factory promote`): what the ASL does with AcquirePromotionLease and
 * ReleasePromotionLease around PromoteImage, for callers outside the state machine.
 * @throws PromotionLeaseHeld while another holder's lease has not lapsed (`work` does not run);
 *   what `work` throws.
 */
export async function withPromotionLease<T>(
  ledger: PromotionLedger,
  lease: { pipeline: string; channel: string; holder: string; ttlSeconds?: number | undefined },
  work: () => Promise<T>,
): Promise<T> {
  const { pipeline, channel, holder } = lease;
  await ledger.acquire(pipeline, channel, holder, lease.ttlSeconds ?? PROMOTION_LEASE_TTL_SECONDS);
  try {
    return await work();
  } finally {
    await ledger.release(pipeline, channel, holder);
  }
}
