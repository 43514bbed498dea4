/** Task `CheckRegionCopy` (DistributeImage Map) → `checkRegionCopy()`: one look at a region's copy. */
import { imageDistributor } from '#commons/aws/wiring.js';
import { CheckRegionCopyInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { checkRegionCopy } from '#commons/steps/distribute-image.js';

const ports = { distributor: imageDistributor() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleCheckRegionCopy(input: CheckRegionCopyInput) {
  return checkRegionCopy(input, ports);
}

export const handler = lambdaHandler(CheckRegionCopyInput, handleCheckRegionCopy);
