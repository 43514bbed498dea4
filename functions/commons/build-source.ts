/**
 * The image a build bakes from, resolved through the ports: one definition for PrepareBuild, the
 * triggers (base-image watcher, git push) and the operator CLI's `start`, so the source AMI that
 * names an execution is the one PrepareBuild then records.
 */
import { type Architecture, DEFAULT_ARCHITECTURE, trackOf } from './core/architectures.js';
import { assertTrustedSource, getBaseImage } from './core/base-images.js';
import type { ParentRef } from './core/layering.js';
import { InvalidInput } from './errors.js';
import type { ExecutionInput } from './execution-input.js';
import type { ChannelPointer, SourceImage, SourceImageResolver } from './ports.js';

/**
 * A base image's source AMI of `architecture`: `sourceImageId` when given (it must exist), else the
 * base image's current public one of that architecture; either way its publisher must be one the
 * catalog trusts, and its architecture (when the backend reports one) the build's.
 * @throws UnknownBaseImage (not in the catalog), InvalidInput (`sourceImageId` does not exist or is
 *   not visible, or is of another architecture), ForeignBaseImage (owner not a trusted publisher
 *   of the base image).
 */
export async function resolveBaseImageSource(
  sources: SourceImageResolver,
  baseImage: string,
  sourceImageId?: string,
  architecture: Architecture = DEFAULT_ARCHITECTURE,
): Promise<SourceImage> {
  const base = getBaseImage(baseImage);
  const source = sourceImageId
    ? await sources.describe(sourceImageId)
    : await sources.resolve(base.name, architecture);
  if (!source) throw new InvalidInput(`sourceImageId ${sourceImageId} does not exist or is not visible`);
  assertTrustedSource(base, source);
  if (source.architecture !== undefined && source.architecture !== architecture)
    throw new InvalidInput(
      `source image ${source.imageId} is ${source.architecture}, but the build is ${architecture}`,
    );
  return source;
}

/** What the triggers and the CLI read to find a build's source. */
export interface SourceDeps {
  sources: SourceImageResolver;
  /** Parent channel pointers of layered pipelines. */
  pointer: Pick<ChannelPointer, 'current'>;
}

/**
 * What names a build's source: a parent pipeline's channel (layered build), or a base image and,
 * optionally, a given source AMI. A configured pipeline (`PipelineConfig`) and an execution input
 * both are one.
 */
export interface SourceRequest {
  parent?: ParentRef | undefined;
  /** Default x86_64. A layered build reads the parent's pointer of the same architecture. */
  architecture?: Architecture | undefined;
  baseImage?: string | undefined;
  sourceImageId?: string | undefined;
}

/**
 * A build's source image and the execution input fields that name it (`{ parent }`, or
 * `{ baseImage, sourceImageId }`): the image the parent channel names now, or the vetted source AMI
 * of the base image ({@link resolveBaseImageSource}). Undefined when the parent channel names no
 * image yet: nothing to build from.
 * @throws InvalidInput when the request names neither a parent nor a base image, or a
 *   `sourceImageId` that does not exist; UnknownBaseImage; ForeignBaseImage.
 */
export async function resolvePipelineSource(
  request: SourceRequest,
  deps: SourceDeps,
): Promise<
  { sourceImageId: string; input: Pick<ExecutionInput, 'baseImage' | 'parent' | 'sourceImageId'> } | undefined
> {
  const architecture = request.architecture ?? DEFAULT_ARCHITECTURE;
  if (request.parent) {
    const position = await deps.pointer.current(
      trackOf(request.parent.pipeline, architecture),
      request.parent.channel,
    );
    return position ? { sourceImageId: position.imageId, input: { parent: request.parent } } : undefined;
  }
  if (request.baseImage === undefined) throw new InvalidInput('baseImage is required unless parent is given');
  const source = await resolveBaseImageSource(
    deps.sources,
    request.baseImage,
    request.sourceImageId,
    architecture,
  );
  return {
    sourceImageId: source.imageId,
    input: { baseImage: request.baseImage, sourceImageId: source.imageId },
  };
}
