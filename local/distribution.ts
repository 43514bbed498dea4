/**
 * Distribution on the local backend: there is one "region", `local` (the catalog), so the
 * DistributeImage Map state has one iteration, whose image is the candidate itself. Nothing is
 * copied or shared; the steps still report the per-region shapes the AWS backend reports
 * (`$.regionOutcomes`, `$.distributionVerdict`, `$.promotion.regions`).
 */
import { InvalidInput } from '#commons/errors.js';
import type { ImageDistributor, ImageStore, RegionalPorts } from '#commons/ports.js';
import type { LocalPorts } from '#local/wiring.js';

/** The local backend's one region (also the `region` of its events). */
export const LOCAL_REGION = 'local';

const onlyLocal = (region: string): void => {
  if (region !== LOCAL_REGION)
    throw new InvalidInput(
      `the local backend has one region, "${LOCAL_REGION}": it cannot distribute to ${region} (distribution settings apply on AWS)`,
    );
};

/** `ImageDistributor` of the one local region: images are looked at in the catalog, never copied or shared. */
export class LocalImageDistributor implements ImageDistributor {
  constructor(private readonly images: Pick<ImageStore, 'getImage'>) {}

  async copy(request: { region: string }): Promise<{ imageId: string }> {
    onlyLocal(request.region);
    throw new InvalidInput(
      'the local backend never copies an image: the local region holds the candidate itself',
    );
  }

  async describe(region: string, imageId: string): Promise<{ state: string; snapshotIds: string[] }> {
    onlyLocal(region);
    const image = await this.images.getImage(imageId);
    return image
      ? { state: 'available', snapshotIds: image.snapshotIds }
      : { state: 'missing', snapshotIds: [] };
  }

  async share(): Promise<void> {
    throw new InvalidInput(
      'the local backend cannot share images with other accounts (distribution settings apply on AWS)',
    );
  }
}

/** The local ports as the one region's. @throws InvalidInput for any other region. */
export const localRegionalPorts = (
  ports: Pick<LocalPorts, 'images' | 'pointer' | 'events'>,
): RegionalPorts => ({
  images: (region) => {
    onlyLocal(region);
    return ports.images;
  },
  pointer: (region) => {
    onlyLocal(region);
    return ports.pointer;
  },
  events: (region) => {
    onlyLocal(region);
    return ports.events;
  },
});
