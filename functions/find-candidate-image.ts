/** Task `FindCandidateImage` → `findCandidateImage()`. */
import { imageStore } from '#commons/aws/wiring.js';
import { FindCandidateImageInput } from '#commons/handler-inputs.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { findCandidateImage } from '#commons/steps/find-candidate-image.js';

const ports = { images: imageStore() };

export const handler = lambdaHandler(FindCandidateImageInput, (input) => findCandidateImage(input, ports));
