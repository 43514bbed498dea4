/** Task `AcquirePromotionLease` → `acquirePromotionLease()`. Env: STAGE, PROMOTION_LEDGER_TABLE. */
import { promotionLedger } from '#commons/aws/wiring.js';
import { AcquirePromotionLeaseInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { acquirePromotionLease } from '#commons/steps/acquire-promotion-lease.js';

const ports = { ledger: promotionLedger() };

export const handler = lambdaHandler(AcquirePromotionLeaseInput, async (input) => {
  const lease = await acquirePromotionLease(input, ports);
  logger.info('promotion lease acquired', { ...lease });
  return lease;
});
