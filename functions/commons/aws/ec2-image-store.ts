/**
 * `ImageStore` on EC2 AMIs.
 *
 * APIs (EC2 API reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/):
 * - `DescribeImages` with `Owners=self` and `tag:<key>` filters, paginated;
 * - `CreateTags` for channel changes;
 * - `DescribeImageReferences` (instances and launch templates that reference an AMI) for "in use".
 *   It takes 1 to 10 image ids per call ("ImageId.N ... Maximum number of 10 items",
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageReferences.html), so
 *   the ids are checked in chunks of {@link IMAGE_REFERENCE_CHUNK}. The caller needs
 *   `ec2:DescribeImageReferences` plus the describe permissions of the resource types it checks
 *   (`ec2:DescribeInstances`, `ec2:DescribeLaunchTemplates`, `ec2:DescribeLaunchTemplateVersions`,
 *   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-ami-references.html). A chunk whose
 *   scan fails counts as in use (fail closed: an image is never deregistered because the check
 *   that it is unused could not run);
 * - `DeregisterImage` with `DeleteAssociatedSnapshots=true`, whose per-snapshot `ReturnCode`
 *   (`success`, `skipped`, `missing-permissions`, `internal-error`, `client-error`) is reported.
 */
import {
  CreateTagsCommand,
  DeregisterImageCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  type EC2Client,
  type Image,
  paginateDescribeImages,
} from '@aws-sdk/client-ec2';
import type { ClientProvider } from '../clients/lazy-client.js';
import type { ImageRecord, ImageStore, SnapshotOutcome } from '../ports.js';

/** Most image ids `DescribeImageReferences` accepts in one call (EC2 API reference, `ImageId.N`). */
export const IMAGE_REFERENCE_CHUNK = 10;

/** Called when the reference scan of some images failed; they are then reported in use. */
export type ReferenceScanFailed = (imageIds: readonly string[], error: unknown) => void;

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
});

export class Ec2ImageStore implements ImageStore {
  constructor(
    private readonly client: ClientProvider<EC2Client>,
    /** Told about every chunk whose reference scan failed (default: nothing). */
    private readonly onScanFailed: ReferenceScanFailed = () => undefined,
  ) {}

  async findImages(tags: Record<string, string>): Promise<ImageRecord[]> {
    const filters = [
      { Name: 'state', Values: ['available'] },
      ...Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] })),
    ];
    const images: ImageRecord[] = [];
    for await (const page of paginateDescribeImages(
      { client: this.client() },
      { Owners: ['self'], Filters: filters, MaxResults: 1000 },
    )) {
      images.push(...(page.Images ?? []).map(toImageRecord));
    }
    return images;
  }

  async getImage(imageId: string): Promise<ImageRecord | undefined> {
    try {
      const { Images } = await this.client().send(
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
    await this.client().send(
      new CreateTagsCommand({
        Resources: [imageId],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }

  /**
   * The subset of `imageIds` referenced by instances or launch templates, checked 10 ids per call.
   * Fail closed: the ids of a chunk whose scan throws are all returned as in use.
   */
  async imagesInUse(imageIds: readonly string[]): Promise<string[]> {
    const inUse = new Set<string>();
    for (let start = 0; start < imageIds.length; start += IMAGE_REFERENCE_CHUNK) {
      const chunk = imageIds.slice(start, start + IMAGE_REFERENCE_CHUNK);
      try {
        for (const id of await this.referencedAmong(chunk)) inUse.add(id);
      } catch (error) {
        this.onScanFailed(chunk, error);
        for (const id of chunk) inUse.add(id);
      }
    }
    return imageIds.filter((id) => inUse.has(id));
  }

  /** One chunk (1-10 ids), every page. */
  private async referencedAmong(imageIds: readonly string[]): Promise<Set<string>> {
    const referenced = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await this.client().send(
        new DescribeImageReferencesCommand({
          ImageIds: [...imageIds],
          ResourceTypes: [{ ResourceType: 'ec2:Instance' }, { ResourceType: 'ec2:LaunchTemplate' }],
          NextToken: nextToken,
        }),
      );
      for (const reference of page.ImageReferences ?? []) {
        if (reference.ImageId) referenced.add(reference.ImageId);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return referenced;
  }

  async deregisterImage(imageId: string): Promise<SnapshotOutcome[]> {
    const result = await this.client().send(
      new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true }),
    );
    return (result.DeleteSnapshotResults ?? []).map((entry): SnapshotOutcome => {
      const snapshotId = entry.SnapshotId ?? '';
      if (entry.ReturnCode === 'success') return { snapshotId, outcome: 'deleted' };
      if (entry.ReturnCode === 'skipped') return { snapshotId, outcome: 'skipped', detail: 'skipped' };
      return { snapshotId, outcome: 'failed', detail: entry.ReturnCode ?? 'unknown' };
    });
  }
}
