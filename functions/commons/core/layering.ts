/**
 * Layered builds ("golden base → app image"): a pipeline bakes from the image another pipeline's
 * channel names instead of a vendor's base image, and runs only its own image definition's roles
 * on it (the parent's are in the image already). Pure: the decision whether an image may be a
 * parent, and what a child inherits from it.
 *
 * The image must be one this account's factory baked and promoted for that parent: the image
 * store only returns the account's own images (EC2 `DescribeImages` with `Owners=self`: "Scopes
 * the results to images with the specified owners. You can specify a combination of AWS account
 * IDs, `self`, …", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html),
 * and its tags must name the parent pipeline, the parent channel and a catalog base image.
 */
import { isBaseImageName } from './base-images.js';
import { TAG } from './tags.js';

/** The parent a layered build names: a pipeline and one of its channels. */
export interface ParentRef {
  pipeline: string;
  channel: string;
}

/** What a child takes from its parent image. */
export interface ParentImage {
  imageId: string;
  name: string;
  /** ISO 8601 creation time of the parent image: the child's source time for promotion order. */
  createdAt: string;
  /** The base image catalog key of the whole chain (login user, root device, Packer facts). */
  baseImage: string;
}

/**
 * Why `image` (the image `parent`'s channel pointer names, as the account's image store returns it)
 * cannot be baked from, or the parent facts when it can.
 * @param image undefined when the store has no such image of this account.
 * @returns `{ problem }` with a sentence for the error, or `{ parent }`.
 */
export const checkParentImage = (
  parent: ParentRef,
  imageId: string,
  image: { imageId: string; name: string; createdAt: string; tags: Record<string, string> } | undefined,
): { problem: string } | { parent: ParentImage } => {
  if (!image) return { problem: `the channel names ${imageId}, which is not an image of this account` };
  const pipeline = image.tags[TAG.pipeline];
  if (pipeline !== parent.pipeline)
    return {
      problem: `image ${imageId} is not an image of pipeline ${parent.pipeline} (${TAG.pipeline}=${pipeline ?? 'none'})`,
    };
  const channel = image.tags[TAG.channel];
  if (channel !== parent.channel)
    return {
      problem: `image ${imageId} is not promoted to ${parent.channel} (${TAG.channel}=${channel ?? 'none'})`,
    };
  const baseImage = image.tags[TAG.baseImage];
  if (baseImage === undefined || !isBaseImageName(baseImage))
    return {
      problem: `image ${imageId} has no ${TAG.baseImage} tag naming a catalog base image (${baseImage ?? 'none'}); rebake the parent`,
    };
  if (!image.createdAt || Number.isNaN(Date.parse(image.createdAt)))
    return { problem: `image ${imageId} has no creation time to order the build by` };
  return {
    parent: { imageId: image.imageId, name: image.name, createdAt: image.createdAt, baseImage },
  };
};
