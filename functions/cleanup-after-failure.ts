/**
 * Task `CleanupAfterFailure` → `cleanupAfterFailure()`. Env: CHANNEL_PARAMETER_PREFIX, STAGE,
 * PROMOTION_LEDGER_TABLE (repairing a channel after a failed promotion); a distributed build's
 * copies in the other regions are removed too.
 */
import {
  channelPointer,
  imageStore,
  machineLauncher,
  promotionLedger,
  regionalImageStores,
} from '#commons/aws/wiring.js';
import { CleanupAfterFailureInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';

const ports = {
  launcher: machineLauncher(),
  images: imageStore(),
  pointer: channelPointer(),
  ledger: promotionLedger(),
  regions: { images: regionalImageStores() },
};

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleCleanupAfterFailure(input: CleanupAfterFailureInput) {
  const result = await cleanupAfterFailure(input, ports);
  logger.info('cleanup done', { buildId: input.build?.buildId, ...result });
  return result;
}

export const handler = lambdaHandler(CleanupAfterFailureInput, handleCleanupAfterFailure);
