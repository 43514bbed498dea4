/** Task `AcquirePromotionLease` → `acquirePromotionLease()`. Env: STAGE, PROMOTION_LEDGER_TABLE. */
import { promotionLedger } from '#commons/aws/wiring.js';
import { AcquirePromotionLeaseInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { acquirePromotionLease } from '#commons/steps/acquire-promotion-lease.js';

const ports = { ledger: promotionLedger() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleAcquirePromotionLease(input: AcquirePromotionLeaseInput) {
  const lease = await acquirePromotionLease(input, ports);
  logger.info('promotion lease acquired', { ...lease });
  return lease;
}

export const handler = lambdaHandler(AcquirePromotionLeaseInput, handleAcquirePromotionLease);
