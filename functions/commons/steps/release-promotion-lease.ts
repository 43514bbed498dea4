import { laneTrack } from '../core/architectures.js';
import type { PromotionLedger } from '../ports.js';
import type { Build } from '../schemas.js';

/**
 * State `ReleasePromotionLease`: give back the channel's lease after PromoteImage (CleanupAfterFailure
 * gives it back on the failure paths). Releasing a lease the execution no longer holds changes
 * nothing.
 * @returns `$.promotionLeaseRelease` `{ released }`: false when the lease had lapsed and was taken.
 */
export async function releasePromotionLease(
  input: { build: Build },
  ports: { ledger: PromotionLedger },
): Promise<{ released: boolean }> {
  return {
    released: await ports.ledger.release(
      laneTrack(input.build),
      input.build.channel,
      input.build.executionName,
    ),
  };
}
