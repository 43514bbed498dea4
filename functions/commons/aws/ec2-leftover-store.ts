/**
 * `LeftoverStore` on EC2: what builds leave behind, listed by the factory's tags and removed one
 * by one (EC2 API reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/).
 *
 * Every listing is also filtered on `tag:factory:stage=<stage>`: another stage's resources are never read.
 * - Instances: `DescribeInstances` filtered on `tag:factory:role` (`build-instance` from Packer's
 *   `run_tags`, `test-instance` from LaunchTestInstance) and the live states, paginated;
 *   `TerminateInstances` one id per call (an unknown id fails a whole call:
 *   `InvalidInstanceID.NotFound` → gone).
 * - Packer's temporary security group and key pair: packer-plugin-amazon v1.3.4 creates both named
 *   `packer_<uuid>` with the builder's `run_tags` as tag specifications (`StepSecurityGroup`,
 *   `StepKeyPair`; only in the China regions, `IsRestricted`, does it create them untagged, and
 *   they are then never listed). `DescribeSecurityGroups` (paginated) and `DescribeKeyPairs`
 *   (one page) filtered on `tag:factory:role=build-instance`. `DeleteSecurityGroup` by id fails with
 *   `DependencyViolation` while an instance or network interface still uses the group
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html), which
 *   is left to the caller; `InvalidGroup.NotFound` → gone. `DeleteKeyPair` by name.
 * - Candidate images: `DescribeImages` `Owners=self`, `tag:factory:channel=candidate`, every state
 *   (a bake killed during `CreateImage` leaves a `pending` or `failed` one), paginated; removed with
 *   the image store's `DeregisterImage` + `DeleteAssociatedSnapshots` (`ec2-image-store.ts`);
 *   `InvalidAMIID.NotFound` / `.Unavailable` → gone.
 */
import {
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DescribeKeyPairsCommand,
  type EC2Client,
  paginateDescribeImages,
  paginateDescribeInstances,
  paginateDescribeSecurityGroups,
  type Tag,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { ClientProvider } from '../clients/lazy-client.js';
import { BUILD_INSTANCE_ROLE, type Leftover } from '../core/sweep.js';
import { CANDIDATE_CHANNEL, TAG, TEST_INSTANCE_ROLE } from '../core/tags.js';
import type { ImageStore, LeftoverStore, SnapshotOutcome } from '../ports.js';

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];
const GONE = new Set([
  'InvalidInstanceID.NotFound',
  'InvalidGroup.NotFound',
  'InvalidKeyPair.NotFound',
  'InvalidAMIID.NotFound',
  'InvalidAMIID.Unavailable',
]);

const tagMap = (tags: readonly Tag[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
const iso = (date: Date | string | undefined): string | undefined =>
  date === undefined ? undefined : date instanceof Date ? date.toISOString() : date;

export class Ec2LeftoverStore implements LeftoverStore {
  constructor(
    private readonly ec2: ClientProvider<EC2Client>,
    /** This stage: every listing is filtered on `tag:factory:stage` (another stage's resources are never read). */
    private readonly stage: string,
    /** Deregisters an image and deletes its snapshots (the image store's `deregisterImage`). */
    private readonly images: Pick<ImageStore, 'deregisterImage'>,
  ) {}

  #stageFilter(): { Name: string; Values: string[] } {
    return { Name: `tag:${TAG.stage}`, Values: [this.stage] };
  }

  async list(): Promise<Leftover[]> {
    const [instances, groups, keyPairs, images] = await Promise.all([
      this.#instances(),
      this.#securityGroups(),
      this.#keyPairs(),
      this.#candidateImages(),
    ]);
    return [...instances, ...images, ...groups, ...keyPairs];
  }

  async #instances(): Promise<Leftover[]> {
    const found: Leftover[] = [];
    for await (const page of paginateDescribeInstances(
      { client: this.ec2() },
      {
        Filters: [
          { Name: `tag:${TAG.role}`, Values: [BUILD_INSTANCE_ROLE, TEST_INSTANCE_ROLE] },
          this.#stageFilter(),
          { Name: 'instance-state-name', Values: LIVE_STATES },
        ],
      },
    )) {
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const tags = tagMap(instance.Tags);
        found.push({
          kind: tags[TAG.role] === TEST_INSTANCE_ROLE ? 'test-instance' : 'build-instance',
          id: instance.InstanceId ?? '',
          name: tags[TAG.name] ?? '',
          tags,
          createdAt: iso(instance.LaunchTime),
        });
      }
    }
    return found;
  }

  async #securityGroups(): Promise<Leftover[]> {
    const found: Leftover[] = [];
    for await (const page of paginateDescribeSecurityGroups(
      { client: this.ec2() },
      { Filters: [{ Name: `tag:${TAG.role}`, Values: [BUILD_INSTANCE_ROLE] }, this.#stageFilter()] },
    )) {
      for (const group of page.SecurityGroups ?? []) {
        found.push({
          kind: 'security-group',
          id: group.GroupId ?? '',
          name: group.GroupName ?? '',
          tags: tagMap(group.Tags),
        });
      }
    }
    return found;
  }

  async #keyPairs(): Promise<Leftover[]> {
    const { KeyPairs } = await this.ec2().send(
      new DescribeKeyPairsCommand({
        Filters: [{ Name: `tag:${TAG.role}`, Values: [BUILD_INSTANCE_ROLE] }, this.#stageFilter()],
      }),
    );
    return (KeyPairs ?? []).map((key) => ({
      kind: 'key-pair' as const,
      id: key.KeyName ?? '',
      name: key.KeyName ?? '',
      tags: tagMap(key.Tags),
      createdAt: iso(key.CreateTime),
    }));
  }

  async #candidateImages(): Promise<Leftover[]> {
    const found: Leftover[] = [];
    for await (const page of paginateDescribeImages(
      { client: this.ec2() },
      {
        Owners: ['self'],
        Filters: [{ Name: `tag:${TAG.channel}`, Values: [CANDIDATE_CHANNEL] }, this.#stageFilter()],
        MaxResults: 1000,
      },
    )) {
      for (const image of page.Images ?? []) {
        found.push({
          kind: 'image',
          id: image.ImageId ?? '',
          name: image.Name ?? '',
          tags: tagMap(image.Tags),
          createdAt: image.CreationDate,
          snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((m) =>
            m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [],
          ),
        });
      }
    }
    return found;
  }

  async remove(resource: Leftover): Promise<{ outcome: 'removed' | 'gone'; snapshots: SnapshotOutcome[] }> {
    try {
      let snapshots: SnapshotOutcome[] = [];
      switch (resource.kind) {
        case 'build-instance':
        case 'test-instance':
          await this.ec2().send(new TerminateInstancesCommand({ InstanceIds: [resource.id] }));
          break;
        case 'image':
          snapshots = await this.images.deregisterImage(resource.id);
          break;
        case 'security-group':
          await this.ec2().send(new DeleteSecurityGroupCommand({ GroupId: resource.id }));
          break;
        case 'key-pair':
          await this.ec2().send(new DeleteKeyPairCommand({ KeyName: resource.id }));
          break;
      }
      return { outcome: 'removed', snapshots };
    } catch (error) {
      if (GONE.has((error as Error).name)) return { outcome: 'gone', snapshots: [] };
      throw error;
    }
  }
}
