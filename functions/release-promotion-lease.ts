/** Task `ReleasePromotionLease` → `releasePromotionLease()`. Env: STAGE, PROMOTION_LEDGER_TABLE. */
import { promotionLedger } from '#commons/aws/wiring.js';
import { ReleasePromotionLeaseInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { releasePromotionLease } from '#commons/steps/release-promotion-lease.js';

const ports = { ledger: promotionLedger() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleReleasePromotionLease(input: ReleasePromotionLeaseInput) {
  const result = await releasePromotionLease(input, ports);
  if (!result.released) logger.warn('promotion lease was no longer held', { buildId: input.build.buildId });
  return result;
}

export const handler = lambdaHandler(ReleasePromotionLeaseInput, handleReleasePromotionLease);
