import { planRetention } from '../core/retention.js';
import { TAG } from '../core/tags.js';
import type { ChannelPointer, ImageStore } from '../ports.js';
import type { Build, Promotion, Retention } from '../schemas.js';

export interface RetentionOptions {
  /** Age limit in days. */
  maxAgeDays: number;
  keepLatest: number;
  /** Plan only: report what would be deregistered, change nothing. */
  dryRun: boolean;
  now?: () => Date;
}

type Outcome = Retention['outcomes'][number];

/**
 * State `ApplyRetention`: deregister the pipeline's expired images (rules in `core/retention.ts`).
 * Protected: current/previous promoted images (tags, the channel pointer, this promotion), in-use
 * and `factory:protected=true` images, the newest `keepLatest`. A failed deregistration is reported
 * in its outcome and the others proceed.
 * @returns `$.retention` `{ dryRun, outcomes: [{ imageId, action, reason, outcome, snapshots, error? }] }`
 *   where `outcome` is `deregistered | kept | failed | planned` (planned = would deregister, dry run).
 */
export const applyRetention = async (
  input: { build: Build; promotion?: Promotion | undefined; retentionDryRun?: boolean | undefined },
  ports: { images: ImageStore; pointer: ChannelPointer },
  options: RetentionOptions,
): Promise<Retention> => {
  const { build, promotion } = input;
  const dryRun = input.retentionDryRun ?? options.dryRun;
  const images = await ports.images.findImages({ [TAG.pipeline]: build.pipeline });
  const inUse = await ports.images.imagesInUse(images.map((image) => image.imageId));
  const pointed = await ports.pointer.current(build.pipeline, build.channel);
  const promotedImageIds = [pointed?.imageId, promotion?.imageId, promotion?.previousImageId].filter(
    (id): id is string => typeof id === 'string',
  );
  const plan = planRetention({
    images,
    now: (options.now ?? (() => new Date()))(),
    pipeline: build.pipeline,
    maxAgeDays: options.maxAgeDays,
    keepLatest: options.keepLatest,
    promotedImageIds,
    inUseImageIds: inUse,
  });
  const outcomes: Outcome[] = [];
  for (const decision of plan) {
    const base = { imageId: decision.imageId, action: decision.action, reason: decision.reason };
    if (decision.action === 'keep') {
      outcomes.push({ ...base, outcome: 'kept', snapshots: [] });
    } else if (dryRun) {
      outcomes.push({ ...base, outcome: 'planned', snapshots: [] });
    } else {
      try {
        const snapshots = await ports.images.deregisterImage(decision.imageId);
        outcomes.push({ ...base, outcome: 'deregistered', snapshots });
      } catch (error) {
        outcomes.push({
          ...base,
          outcome: 'failed',
          snapshots: [],
          error: `${(error as Error).name}: ${(error as Error).message}`,
        });
      }
    }
  }
  return { dryRun, outcomes };
};
