/**
 * `ImageStore` on EC2 AMIs.
 *
 * APIs (EC2 API reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/):
 * - `DescribeImages` with `Owners=self` and `tag:<key>` filters, always `tag:factory:stage=<stage>`, paginated;
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
 *   (`success`, `skipped`, `missing-permissions`, `internal-error`, `client-error`) is reported;
 * - `DescribeImageReferences` with `ResourceTypes=[ssm:Parameter]` for images named by a parameter
 *   of Parameter Store, in the same chunks and failing closed the same way (EC2 reads the
 *   parameters on the caller's behalf: `ssm:DescribeParameters`, `ssm:GetParameters` via EC2);
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
  type ResourceTypeRequest,
} from '@aws-sdk/client-ec2';
import { BoundedPool } from '../bounded-pool.js';
import type { ClientProvider } from '../clients/lazy-client.js';
import { TAG } from '../core/tags.js';
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
  ...(image.LastLaunchedTime ? { lastLaunchedAt: image.LastLaunchedTime } : {}),
  ...(image.Public === undefined ? {} : { public: image.Public }),
  ...(image.Architecture ? { architecture: image.Architecture } : {}),
});

/** `DescribeImageReferences` calls one reference scan has in flight. */
const REFERENCE_CALLS_IN_FLIGHT = 4;

/** Resource types of "in use" (instances, launch templates) and of "named by a parameter". */
const IN_USE_TYPES: readonly ResourceTypeRequest[] = [
  { ResourceType: 'ec2:Instance' },
  { ResourceType: 'ec2:LaunchTemplate' },
];
const PARAMETER_TYPES: readonly ResourceTypeRequest[] = [{ ResourceType: 'ssm:Parameter' }];

export class Ec2ImageStore implements ImageStore {
  constructor(
    private readonly client: ClientProvider<EC2Client>,
    /**
     * This stage: {@link findImages} only ever returns images tagged `factory:stage=<stage>`, so no
     * step sees, retags or deregisters another stage's images (IAM denies it too).
     */
    private readonly stage: string,
    /** Told about every chunk whose reference scan failed (default: nothing). */
    private readonly onScanFailed: ReferenceScanFailed = () => undefined,
  ) {}

  async findImages(tags: Record<string, string>): Promise<ImageRecord[]> {
    const filters = [
      { Name: 'state', Values: ['available'] },
      // The store's stage wins over a stage a caller might pass.
      ...Object.entries({ ...tags, [TAG.stage]: this.stage }).map(([key, value]) => ({
        Name: `tag:${key}`,
        Values: [value],
      })),
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
    return this.#referenced(imageIds, IN_USE_TYPES);
  }

  /**
   * The subset of `imageIds` named by a Parameter Store parameter, checked 10 ids per call.
   * Fail closed like {@link imagesInUse}.
   */
  async imagesReferencedByParameters(imageIds: readonly string[]): Promise<string[]> {
    return this.#referenced(imageIds, PARAMETER_TYPES);
  }

  /**
   * Scan `imageIds` in chunks of {@link IMAGE_REFERENCE_CHUNK}, {@link REFERENCE_CALLS_IN_FLIGHT}
   * calls at once. A chunk whose scan throws is reported to `onScanFailed` and counted referenced.
   * @returns the referenced ids, in the order of `imageIds`.
   */
  async #referenced(
    imageIds: readonly string[],
    resourceTypes: readonly ResourceTypeRequest[],
  ): Promise<string[]> {
    const chunks = Array.from({ length: Math.ceil(imageIds.length / IMAGE_REFERENCE_CHUNK) }, (_, index) =>
      imageIds.slice(index * IMAGE_REFERENCE_CHUNK, (index + 1) * IMAGE_REFERENCE_CHUNK),
    );
    const referenced = new Set<string>();
    const pool = new BoundedPool({ concurrency: REFERENCE_CALLS_IN_FLIGHT });
    for (const result of await pool.run(chunks, (chunk) => this.#referencedAmong(chunk, resourceTypes))) {
      if (result.status === 'done') {
        for (const id of result.value) referenced.add(id);
        continue;
      }
      this.onScanFailed(result.item, result.status === 'failed' ? result.error : new Error('scan not run'));
      for (const id of result.item) referenced.add(id);
    }
    return imageIds.filter((id) => referenced.has(id));
  }

  /** One chunk (1-10 ids), every page. */
  async #referencedAmong(
    imageIds: readonly string[],
    resourceTypes: readonly ResourceTypeRequest[],
  ): Promise<Set<string>> {
    const referenced = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await this.client().send(
        new DescribeImageReferencesCommand({
          ImageIds: [...imageIds],
          ResourceTypes: resourceTypes.map((type) => ({ ...type })),
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

  async sharedWith(imageId: string): Promise<string[]> {
    try {
      const { LaunchPermissions } = await this.client().send(
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
