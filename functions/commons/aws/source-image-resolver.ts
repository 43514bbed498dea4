/**
 * `SourceImageResolver` on AWS: the catalog's public SSM parameter gives the current source AMI
 * id for the region (`GetParameter`), `DescribeImages` gives its name and owning account.
 * Public parameters: https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters.html
 */
import { DescribeImagesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ClientProvider } from '../clients/lazy-client.js';
import { type Architecture, DEFAULT_ARCHITECTURE } from '../core/architectures.js';
import { getBaseImage } from '../core/base-images.js';
import { MissingConfiguration } from '../errors.js';
import type { SourceImage, SourceImageResolver } from '../ports.js';

const NOT_FOUND = new Set(['InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable']);

export class PublicParameterSourceImageResolver implements SourceImageResolver {
  constructor(
    private readonly ec2: ClientProvider<EC2Client>,
    private readonly ssm: ClientProvider<SSMClient>,
  ) {}

  /**
   * @throws UnknownBaseImage for a name outside the catalog.
   * @throws MissingConfiguration when the public parameter is empty or missing in this region.
   */
  async resolve(baseImage: string, architecture: Architecture = DEFAULT_ARCHITECTURE): Promise<SourceImage> {
    const base = getBaseImage(baseImage);
    const parameter = base.ssmParameters[architecture];
    let imageId: string | undefined;
    try {
      const { Parameter } = await this.ssm().send(new GetParameterCommand({ Name: parameter }));
      imageId = Parameter?.Value;
    } catch (error) {
      if ((error as Error).name !== 'ParameterNotFound') throw error;
    }
    if (!imageId) {
      throw new MissingConfiguration(
        `public parameter ${parameter} of ${baseImage} (${architecture}) has no value in this region`,
      );
    }
    const image = await this.describe(imageId);
    if (!image) {
      throw new MissingConfiguration(
        `public parameter ${parameter} points to ${imageId}, which does not exist`,
      );
    }
    return image;
  }

  async describe(imageId: string): Promise<SourceImage | undefined> {
    try {
      const { Images } = await this.ec2().send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      const image = Images?.[0];
      if (!image) return undefined;
      return {
        imageId,
        name: image.Name ?? '',
        ownerId: image.OwnerId,
        ownerAlias: image.ImageOwnerAlias,
        createdAt: image.CreationDate,
        architecture: image.Architecture,
      };
    } catch (error) {
      if (NOT_FOUND.has((error as Error).name)) return undefined;
      throw error;
    }
  }
}
