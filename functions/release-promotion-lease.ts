/** Task `ReleasePromotionLease` → `releasePromotionLease()`. Env: STAGE, PROMOTION_LEDGER_TABLE. */
import { promotionLedger } from '#commons/aws/wiring.js';
import { ReleasePromotionLeaseInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { releasePromotionLease } from '#commons/steps/release-promotion-lease.js';

const ports = { ledger: promotionLedger() };

export const handler = lambdaHandler(ReleasePromotionLeaseInput, async (input) => {
  const result = await releasePromotionLease(input, ports);
  if (!result.released) logger.warn('promotion lease was no longer held', { buildId: input.build.buildId });
  return result;
});
