/** Task `FindCandidateImage` → `findCandidateImage()`. */
import { imageStore } from '#commons/aws/wiring.js';
import { FindCandidateImageInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { findCandidateImage } from '#commons/steps/find-candidate-image.js';

const ports = { images: imageStore() };

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
function handleFindCandidateImage(input: FindCandidateImageInput) {
  return findCandidateImage(input, ports);
}

export const handler = lambdaHandler(FindCandidateImageInput, handleFindCandidateImage);
