/** Task `ShareRegionCopy` (DistributeImage Map) → `shareRegionCopy()`: launch and create-volume permissions for the share targets. */
import { imageDistributor } from '#commons/aws/wiring.js';
import { ShareRegionCopyInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { shareRegionCopy } from '#commons/steps/distribute-image.js';

const ports = { distributor: imageDistributor() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleShareRegionCopy(input: ShareRegionCopyInput) {
  const outcome = await shareRegionCopy(input, ports);
  logger.info('region distributed', { buildId: input.build.buildId, ...outcome });
  return outcome;
}

export const handler = lambdaHandler(ShareRegionCopyInput, handleShareRegionCopy);
