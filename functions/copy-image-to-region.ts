/** Task `CopyImageToRegion` (DistributeImage Map) → `copyImageToRegion()`: `CopyImage` into the iteration's region. */
import { imageDistributor } from '#commons/aws/wiring.js';
import { CopyImageToRegionInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { copyImageToRegion } from '#commons/steps/distribute-image.js';

const ports = { distributor: imageDistributor() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleCopyImageToRegion(input: CopyImageToRegionInput) {
  const copy = await copyImageToRegion(input, ports);
  logger.info('region image', { buildId: input.build.buildId, ...copy });
  return copy;
}

export const handler = lambdaHandler(CopyImageToRegionInput, handleCopyImageToRegion);
