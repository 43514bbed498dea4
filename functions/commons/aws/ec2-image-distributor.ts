/**
 * `ImageDistributor` on EC2, each call in the region it names (one client per region).
 *
 * APIs (EC2 API reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/):
 * - `CopyImage` (API_CopyImage.html), called in the destination region with `SourceRegion`:
 *   `ClientToken` makes a retry return the first copy ("Unique, case-sensitive identifier you
 *   provide to ensure idempotency of the request"); `Encrypted=true` always, with `KmsKeyId` when
 *   the region names a key ("If you specify a KMS key, you must also set the encrypted state to
 *   true"; without one, the region's default EBS key); `CopyImageTags=true` copies the candidate's
 *   user-defined tags, so the copy carries the ownership tags (`factory:stage`, `factory:pipeline`,
 *   `factory:build-id`, `factory:channel=candidate`, …) from its creation, as IAM requires;
 *   `TagSpecifications` of type `snapshot` give its snapshots the same ownership tags;
 * - `DescribeImages` by id for the copy's state (`pending`, `available`, `failed`, …) and snapshots
 *   (an id not found yet right after `CopyImage` reads as `missing`);
 * - `ModifyImageAttribute` `LaunchPermission.Add` with `UserId`, `OrganizationArn`,
 *   `OrganizationalUnitArn` (API_LaunchPermission.html);
 * - `ModifySnapshotAttribute` `createVolumePermission` `add` with `UserIds` (accounts only: a create
 *   volume permission names a `UserId` or the group `all`, API_CreateVolumePermission.html). It
 *   fails for a snapshot encrypted with the AWS managed key ("Snapshots encrypted with your default
 *   KMS key cannot be shared with other accounts", API_ModifySnapshotAttribute.html), which is why
 *   PrepareBuild refuses sharing without a customer managed key per region.
 * Permissions (Service Authorization Reference, Amazon EC2): `ec2:CopyImage` on the source image
 * and on the new image and snapshots, `ec2:CreateTags` with `ec2:CreateAction=CopyImage` for the
 * copied tags, the KMS grants of EBS on the keys (`kms:ViaService`), `ec2:ModifyImageAttribute`,
 * `ec2:ModifySnapshotAttribute` (serverless/lambda-roles.yml, `DistributeImageRole`).
 */
import {
  CopyImageCommand,
  DescribeImagesCommand,
  type EC2Client,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import type { RegionalClientProvider } from '../clients/lazy-client.js';
import type { ShareTargets } from '../core/distribution.js';
import { TAG } from '../core/tags.js';
import type { CopyRequest, ImageDistributor } from '../ports.js';

const NOT_FOUND = new Set(['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable']);

export class Ec2ImageDistributor implements ImageDistributor {
  constructor(
    private readonly client: RegionalClientProvider<EC2Client>,
    /** This stage: the `factory:stage` tag of the copies' snapshots. */
    private readonly stage: string,
  ) {}

  async copy(request: CopyRequest): Promise<{ imageId: string }> {
    const { ImageId } = await this.client(request.region).send(
      new CopyImageCommand({
        SourceImageId: request.sourceImageId,
        SourceRegion: request.sourceRegion,
        Name: request.name,
        Description: `copy of ${request.sourceImageId} from ${request.sourceRegion} (image factory)`,
        ClientToken: request.clientToken,
        Encrypted: true,
        ...(request.kmsKeyId ? { KmsKeyId: request.kmsKeyId } : {}),
        CopyImageTags: true,
        // The snapshots get the ownership tags from the creating call too (IAM scopes sharing
        // and deletion of snapshots by them).
        TagSpecifications: [
          {
            ResourceType: 'snapshot',
            Tags: Object.entries({ ...request.snapshotTags, [TAG.stage]: this.stage }).map(
              ([Key, Value]) => ({
                Key,
                Value,
              }),
            ),
          },
        ],
      }),
    );
    if (!ImageId)
      throw new Error(`CopyImage of ${request.sourceImageId} into ${request.region} returned no image id`);
    return { imageId: ImageId };
  }

  async describe(region: string, imageId: string): Promise<{ state: string; snapshotIds: string[] }> {
    try {
      const { Images } = await this.client(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      const image = Images?.[0];
      if (!image) return { state: 'missing', snapshotIds: [] };
      return {
        state: image.State ?? 'unknown',
        snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((mapping) =>
          mapping.Ebs?.SnapshotId ? [mapping.Ebs.SnapshotId] : [],
        ),
      };
    } catch (error) {
      if (NOT_FOUND.has((error as Error).name)) return { state: 'missing', snapshotIds: [] };
      throw error;
    }
  }

  async share(
    region: string,
    imageId: string,
    snapshotIds: readonly string[],
    targets: ShareTargets,
  ): Promise<void> {
    const client = this.client(region);
    await client.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        LaunchPermission: {
          Add: [
            ...targets.accounts.map((UserId) => ({ UserId })),
            ...targets.organizations.map((OrganizationArn) => ({ OrganizationArn })),
            ...targets.organizationalUnits.map((OrganizationalUnitArn) => ({ OrganizationalUnitArn })),
          ],
        },
      }),
    );
    if (targets.accounts.length === 0) return;
    for (const snapshotId of snapshotIds) {
      await client.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: snapshotId,
          Attribute: 'createVolumePermission',
          OperationType: 'add',
          UserIds: [...targets.accounts],
        }),
      );
    }
  }
}
