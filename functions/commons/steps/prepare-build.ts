import { getBaseImage, isTrustedOwner } from '../core/base-images.js';
import { buildId, executionName } from '../core/build-key.js';
import { resolveImageDefinition } from '../core/image-definitions.js';
import { ForeignBaseImage, InvalidInput } from '../errors.js';
import type { SourceImageResolver } from '../ports.js';
import type { Build, PrepareBuildInput } from '../schemas.js';

export interface PrepareBuildOptions {
  /** Seconds the probe suite may run on the test instance. */
  probeTimeoutSeconds: number;
  /** When set, failures of this build open an incident with this response plan. */
  incidentResponsePlanArn?: string | undefined;
  now?: () => Date;
}

/**
 * State `PrepareBuild`: validate the request, fix the image definition (the one named, else the
 * pipeline's namesake), resolve the source AMI of the base image (or verify the given one), check
 * its publisher, and fix the build id and execution name.
 * @returns the `build` document (`$.build`).
 * @throws UnknownImageDefinition, UnknownBaseImage, ForeignBaseImage (untrusted owner), InvalidInput
 *   (given source image not found).
 */
export const prepareBuild = async (
  request: PrepareBuildInput,
  ports: { sources: SourceImageResolver },
  options: PrepareBuildOptions,
): Promise<Build> => {
  const { input, execution } = request;
  const imageDefinition = resolveImageDefinition(input.pipeline, input.imageDefinition);
  const base = getBaseImage(input.baseImage);
  const source = input.sourceImageId
    ? await ports.sources.describe(input.sourceImageId)
    : await ports.sources.resolve(base.name);
  if (!source)
    throw new InvalidInput(`sourceImageId ${input.sourceImageId} does not exist or is not visible`);
  if (!isTrustedOwner(base, source.ownerId))
    throw new ForeignBaseImage(source.imageId, source.ownerId, base.owners);
  const key = { pipeline: input.pipeline, sourceImageId: source.imageId, commit: input.commit };
  return {
    buildId: buildId(key),
    pipeline: input.pipeline,
    channel: input.channel,
    trigger: input.trigger,
    baseImage: input.baseImage,
    imageDefinition,
    sourceImageId: source.imageId,
    sourceImageName: source.name,
    ...(input.commit ? { commit: input.commit } : {}),
    ...(input.repository ? { repository: input.repository } : {}),
    executionName: execution?.Name ?? executionName(key),
    ...(execution?.Id ? { executionArn: execution.Id } : {}),
    startedAt: execution?.StartTime ?? (options.now ?? (() => new Date()))().toISOString(),
    probeTimeoutSeconds: options.probeTimeoutSeconds,
    ...(options.incidentResponsePlanArn ? { incidentResponsePlanArn: options.incidentResponsePlanArn } : {}),
  };
};
