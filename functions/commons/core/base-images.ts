/**
 * Catalog of supported base images (the source AMI families a pipeline can bake from).
 *
 * Sources of the public parameter names (one per architecture) and owners:
 * - Ubuntu: https://documentation.ubuntu.com/aws/aws-how-to/instances/find-ubuntu-images/
 *   (Canonical account 099720109477); `.../ubuntu/<product>/<release>/stable/current/<arch>/hvm/<volume>/ami-id`
 *   with `<arch>` `amd64` or `arm64`
 *   (https://discourse.ubuntu.com/t/finding-ubuntu-images-with-the-aws-ssm-parameter-store/15507)
 * - Amazon Linux 2023: https://docs.aws.amazon.com/linux/al2023/ug/ec2.html#launch-from-ec2-console
 *   (owner alias `amazon`, account 137112412989 in commercial regions);
 *   `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{x86_64,arm64}`
 *   (also the CDK's `AmazonLinux2023ImageSsmParameter`,
 *   https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_ec2.AmazonLinux2023Kernel.html)
 * - Debian: https://wiki.debian.org/Cloud/AmazonEC2Image/Bookworm (account 136693071363);
 *   `/aws/service/debian/release/bookworm/latest/{amd64,arm64}`
 */
import { ForeignBaseImage, UnknownBaseImage } from '../errors.js';
import type { Architecture } from './architectures.js';

export interface BaseImageDefinition {
  /** Catalog key, e.g. `ubuntu-24.04`. */
  readonly name: string;
  /** Public SSM parameter holding the region's current source AMI id, per architecture. */
  readonly ssmParameters: Readonly<Record<Architecture, string>>;
  /** AWS account ids allowed to own the source AMI. */
  readonly owners: readonly string[];
  /** Owner alias accepted by `DescribeImages --owners`, when the publisher has one. */
  readonly ownerAlias?: string;
  /** True when the local (qemu) backend can bake from this base (x86_64 only, see README). */
  readonly local: boolean;
}

export const BASE_IMAGES = {
  'ubuntu-24.04': {
    name: 'ubuntu-24.04',
    ssmParameters: {
      x86_64: '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
      arm64: '/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id',
    },
    owners: ['099720109477'],
    local: false,
  },
  'ubuntu-22.04': {
    name: 'ubuntu-22.04',
    ssmParameters: {
      x86_64: '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
      arm64: '/aws/service/canonical/ubuntu/server/22.04/stable/current/arm64/hvm/ebs-gp2/ami-id',
    },
    owners: ['099720109477'],
    local: false,
  },
  al2023: {
    name: 'al2023',
    ssmParameters: {
      x86_64: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      arm64: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64',
    },
    owners: ['137112412989'],
    ownerAlias: 'amazon',
    local: false,
  },
  'debian-12': {
    name: 'debian-12',
    ssmParameters: {
      x86_64: '/aws/service/debian/release/bookworm/latest/amd64',
      arm64: '/aws/service/debian/release/bookworm/latest/arm64',
    },
    owners: ['136693071363'],
    local: true,
  },
} as const satisfies Record<string, BaseImageDefinition>;

export type BaseImageName = keyof typeof BASE_IMAGES;

/** Catalog keys, in catalog order. */
export const BASE_IMAGE_NAMES = Object.keys(BASE_IMAGES) as BaseImageName[];

/** True when `name` is a catalog key. */
export const isBaseImageName = (name: string): name is BaseImageName => Object.hasOwn(BASE_IMAGES, name);

/**
 * Look up a base image by catalog key.
 * @throws UnknownBaseImage with the list of known names when `name` is not in the catalog.
 */
export const getBaseImage = (name: string): BaseImageDefinition => {
  if (!isBaseImageName(name)) throw new UnknownBaseImage(name, BASE_IMAGE_NAMES);
  return BASE_IMAGES[name];
};

/**
 * True when `ownerId` (the AMI's owning account id, as `DescribeImages` returns it) is a trusted
 * publisher of `base`. Aliases are not trusted on their own: `DescribeImages` always reports the account id.
 */
export const isTrustedOwner = (base: BaseImageDefinition, ownerId: string | undefined): boolean =>
  ownerId !== undefined && base.owners.includes(ownerId);

/**
 * The publisher check every build and trigger applies to a source AMI before it is baked.
 * @param source the AMI as `DescribeImages` reports it (`imageId`, owning account `ownerId`).
 * @throws ForeignBaseImage naming the image, its owner and the trusted owners when `source` is
 *   not owned by a trusted publisher of `base`.
 */
export function assertTrustedSource(
  base: BaseImageDefinition,
  source: { imageId: string; ownerId?: string | undefined },
): void {
  if (!isTrustedOwner(base, source.ownerId))
    throw new ForeignBaseImage(source.imageId, source.ownerId, base.owners);
}
