/**
 * `ImageStore` on EC2 AMIs.
 *
 * APIs (EC2 API reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/):
 * - `DescribeImages` with `Owners=self` and `tag:<key>` filters, paginated;
 * - `CreateTags` for channel changes;
 * - `DescribeImageReferences` (instances and launch templates that reference an AMI) for "in use".
 *   The SDK in use ships `DescribeImageReferencesCommand`, so no DescribeInstances /
 *   DescribeLaunchTemplateVersions fallback is needed;
 * - `DeregisterImage` with `DeleteAssociatedSnapshots=true`, whose per-snapshot `ReturnCode`
 *   (`success`, `skipped`, `missing-permissions`, `internal-error`, `client-error`) is reported;
 * - `DescribeImageReferences` with `ResourceTypes=[ssm:Parameter]` (at most 10 image ids per call)
 *   for images named by a parameter of Parameter Store:
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageReferences.html,
 *   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-ami-references.html;
 * - `DescribeImageAttribute` `launchPermission` (account ids, `all`, organization / OU ARNs) for
 *   "shared": https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageAttribute.html;
 * - `Image.LastLaunchedTime` (reported with up to 24 h delay) and `Image.Public` from
 *   `DescribeImages`: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html.
 */
import {
  CreateTagsCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  type EC2Client,
  type Image,
  paginateDescribeImages,
} from '@aws-sdk/client-ec2';
import { BoundedPool } from '../bounded-pool.js';
import type { ImageRecord, ImageStore, SnapshotOutcome } from '../ports.js';

const NOT_FOUND = new Set(['InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable']);

/** Map an EC2 `Image` to the port's record. */
export const toImageRecord = (image: Image): ImageRecord => ({
  imageId: image.ImageId ?? '',
  name: image.Name ?? '',
  createdAt: image.CreationDate ?? '',
  tags: Object.fromEntries((image.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
  snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((mapping) =>
    mapping.Ebs?.SnapshotId ? [mapping.Ebs.SnapshotId] : [],
  ),
  ...(image.LastLaunchedTime ? { lastLaunchedAt: image.LastLaunchedTime } : {}),
  ...(image.Public === undefined ? {} : { public: image.Public }),
});

/** Most image ids one `DescribeImageReferences` call accepts (API reference, `ImageId.N`). */
export const IMAGE_REFERENCES_MAX_IDS = 10;
/** `DescribeImageReferences` calls one `imagesReferencedByParameters` has in flight. */
const REFERENCE_CALLS_IN_FLIGHT = 4;

export class Ec2ImageStore implements ImageStore {
  constructor(private readonly client: EC2Client) {}

  async findImages(tags: Record<string, string>): Promise<ImageRecord[]> {
    const filters = [
      { Name: 'state', Values: ['available'] },
      ...Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] })),
    ];
    const images: ImageRecord[] = [];
    for await (const page of paginateDescribeImages(
      { client: this.client },
      { Owners: ['self'], Filters: filters, MaxResults: 1000 },
    )) {
      images.push(...(page.Images ?? []).map(toImageRecord));
    }
    return images;
  }

  async getImage(imageId: string): Promise<ImageRecord | undefined> {
    try {
      const { Images } = await this.client.send(
        new DescribeImagesCommand({ ImageIds: [imageId], Owners: ['self'] }),
      );
      const image = Images?.[0];
      return image ? toImageRecord(image) : undefined;
    } catch (error) {
      if (NOT_FOUND.has((error as Error).name)) return undefined;
      throw error;
    }
  }

  async tagImage(imageId: string, tags: Record<string, string>): Promise<void> {
    await this.client.send(
      new CreateTagsCommand({
        Resources: [imageId],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }

  async imagesInUse(imageIds: readonly string[]): Promise<string[]> {
    if (imageIds.length === 0) return [];
    const inUse = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new DescribeImageReferencesCommand({
          ImageIds: [...imageIds],
          ResourceTypes: [{ ResourceType: 'ec2:Instance' }, { ResourceType: 'ec2:LaunchTemplate' }],
          NextToken: nextToken,
        }),
      );
      for (const reference of page.ImageReferences ?? []) if (reference.ImageId) inUse.add(reference.ImageId);
      nextToken = page.NextToken;
    } while (nextToken);
    return imageIds.filter((id) => inUse.has(id));
  }

  async deregisterImage(imageId: string): Promise<SnapshotOutcome[]> {
    const result = await this.client.send(
      new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true }),
    );
    return (result.DeleteSnapshotResults ?? []).map((entry): SnapshotOutcome => {
      const snapshotId = entry.SnapshotId ?? '';
      if (entry.ReturnCode === 'success') return { snapshotId, outcome: 'deleted' };
      if (entry.ReturnCode === 'skipped') return { snapshotId, outcome: 'skipped', detail: 'skipped' };
      return { snapshotId, outcome: 'failed', detail: entry.ReturnCode ?? 'unknown' };
    });
  }

  async imagesReferencedByParameters(imageIds: readonly string[]): Promise<string[]> {
    const slices = Array.from({ length: Math.ceil(imageIds.length / IMAGE_REFERENCES_MAX_IDS) }, (_, index) =>
      imageIds.slice(index * IMAGE_REFERENCES_MAX_IDS, (index + 1) * IMAGE_REFERENCES_MAX_IDS),
    );
    const referenced = new Set<string>();
    const pool = new BoundedPool({ concurrency: REFERENCE_CALLS_IN_FLIGHT });
    for (const result of await pool.run(slices, (slice) => this.#parameterReferences(slice))) {
      if (result.status !== 'done') throw result.status === 'failed' ? result.error : new Error('not run');
      for (const id of result.value) referenced.add(id);
    }
    return imageIds.filter((id) => referenced.has(id));
  }

  /** Image ids (at most 10) named by a parameter, across every page. */
  async #parameterReferences(imageIds: readonly string[]): Promise<string[]> {
    const referenced: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new DescribeImageReferencesCommand({
          ImageIds: [...imageIds],
          ResourceTypes: [{ ResourceType: 'ssm:Parameter' }],
          NextToken: nextToken,
        }),
      );
      for (const reference of page.ImageReferences ?? []) {
        if (reference.ImageId) referenced.push(reference.ImageId);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return referenced;
  }

  async sharedWith(imageId: string): Promise<string[]> {
    try {
      const { LaunchPermissions } = await this.client.send(
        new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
      );
      return (LaunchPermissions ?? []).flatMap((permission) =>
        [
          permission.Group,
          permission.UserId,
          permission.OrganizationArn,
          permission.OrganizationalUnitArn,
        ].filter((principal): principal is string => typeof principal === 'string' && principal !== ''),
      );
    } catch (error) {
      if (NOT_FOUND.has((error as Error).name)) return [];
      throw error;
    }
  }
}
