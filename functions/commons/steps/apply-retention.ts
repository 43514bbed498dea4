import { BoundedPool } from '../bounded-pool.js';
import { laneTrack } from '../core/architectures.js';
import { type ChannelTrail, inScope, planRetention, type RetentionInput } from '../core/retention.js';
import { type RetentionOutcomeEntry, retentionReport } from '../core/retention-report.js';
import { isPromotedChannelTag, PREVIOUS_CHANNEL_PREFIX, TAG } from '../core/tags.js';
import type { ChannelPointer, ImageRecord, ImageStore, RegionalPorts } from '../ports.js';
import type { Build, Promotion, Retention } from '../schemas.js';

export interface RetentionOptions {
  /** Age limit in days. */
  maxAgeDays: number;
  keepLatest: number;
  /** Plan only: report what would be deregistered, change nothing. */
  dryRun: boolean;
  /** Images launched within this many days are kept (default 7). */
  recentLaunchDays?: number;
  /** Stage whose images are in scope (`factory:stage`); undefined: images without the tag. */
  stage?: string | undefined;
  /** Most calls in flight at once (default 8). */
  concurrency?: number;
  /** Expired images checked and deleted per batch (default 100). */
  batchSize?: number;
  /** True for an error that means "slow down" (AWS: the SDK's throttling classification). */
  isThrottled?: (error: unknown) => boolean;
  /**
   * Launch permissions the factory granted itself (the distribution's share targets: account ids,
   * organization and OU ARNs): an image shared with these only is not kept for being shared.
   */
  ownShareTargets?: readonly string[];
  /** Milliseconds left before the caller must return (Lambda: `context.getRemainingTimeInMillis`). */
  remainingMs?: () => number;
  /**
   * No new work starts with less than this left, in ms. Default: a fifth of the time left at the
   * start, at most 60 000 (room for one call's SDK retries: 5 attempts, backoff capped at 20 s).
   */
  reserveMs?: number;
  now?: () => Date;
  /** Backoff sleep of the pool (tests). */
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_BATCH_SIZE = 100;
const DEFAULT_RESERVE_MS = 60_000;
const RESERVE_SHARE = 0.2;

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** Channel name a `factory:channel` tag value speaks for (`previous-stable` → `stable`). */
const channelOfTag = (value: string): string =>
  value.startsWith(PREVIOUS_CHANNEL_PREFIX) ? value.slice(PREVIOUS_CHANNEL_PREFIX.length) : value;

/**
 * Every channel of the track (the pipeline's architecture) with its pointer history: pointers that
 * exist, tags, the build's.
 */
const readChannels = async (
  pointer: ChannelPointer,
  track: string,
  images: readonly ImageRecord[],
  buildChannel: string,
): Promise<ChannelTrail[]> => {
  const names = new Set([buildChannel, ...(await pointer.channels(track))]);
  for (const image of images) {
    const tag = image.tags[TAG.channel];
    if (isPromotedChannelTag(tag)) names.add(channelOfTag(tag as string));
  }
  const trails: ChannelTrail[] = [];
  for (const channel of [...names].sort()) {
    trails.push({ channel, history: await pointer.history(track, channel) });
  }
  return trails;
};

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, index) =>
    items.slice(index * size, (index + 1) * size),
  );

/**
 * State `ApplyRetention`: deregister the expired images of the build's pipeline and architecture
 * (rules in `core/retention.ts`; the channels read are that architecture's track).
 *
 * 1. Reads the pipeline's images and every channel pointer with its history, and plans.
 * 2. Works through the expired images oldest first, in batches: for each batch it asks the store
 *    which are in use (instances, launch templates), named by a parameter, or shared, plans again
 *    with those facts, and deregisters what is still expired, through a {@link BoundedPool}.
 * 3. Stops starting work when the time budget (`remainingMs` − `reserveMs`) is spent: what is left
 *    is reported `deferred`, and the next run picks it up.
 *
 * A failed deregistration is reported (`failed`) and the others proceed; when the image turns out
 * to be gone already, it counts as done (`gone`). Errors reading the catalog or the pointers fail
 * the task (the ASL turns that into a `partial` report: it never fails a promoted build).
 * @returns `$.retention` (see `core/retention-report.ts`); `outcome` is `partial` when anything is
 *   left for the next run.
 */
export async function applyRetention(
  input: {
    build: Pick<Build, 'pipeline' | 'channel'> & Partial<Build>;
    promotion?: Promotion | undefined;
    retentionDryRun?: boolean | undefined;
  },
  ports: { images: ImageStore; pointer: ChannelPointer },
  options: RetentionOptions,
): Promise<Retention> {
  const { build, promotion } = input;
  const dryRun = input.retentionDryRun ?? options.dryRun;
  const reserveMs =
    options.reserveMs ?? Math.min(DEFAULT_RESERVE_MS, (options.remainingMs?.() ?? 0) * RESERVE_SHARE);
  const timeLeft = (): boolean => options.remainingMs === undefined || options.remainingMs() > reserveMs;
  const images = (await ports.images.findImages({ [TAG.pipeline]: build.pipeline })).filter((image) =>
    inScope(image, build.pipeline, options.stage, build.architecture),
  );
  const base: RetentionInput = {
    images,
    now: (options.now ?? (() => new Date()))(),
    pipeline: build.pipeline,
    stage: options.stage,
    architecture: build.architecture,
    maxAgeDays: options.maxAgeDays,
    keepLatest: options.keepLatest,
    ...(options.recentLaunchDays === undefined ? {} : { recentLaunchDays: options.recentLaunchDays }),
    channels: await readChannels(ports.pointer, laneTrack(build), images, build.channel),
    promotedImageIds: [promotion?.imageId, promotion?.previousImageId].filter(
      (id): id is string => typeof id === 'string',
    ),
  };
  const plan = planRetention(base);
  const entries = new Map<string, RetentionOutcomeEntry>(
    plan.map((decision) => [
      decision.imageId,
      {
        imageId: decision.imageId,
        action: decision.action,
        reason: decision.reason,
        outcome: decision.action === 'keep' ? 'kept' : 'deferred',
        snapshots: [],
      },
    ]),
  );
  const pool = new BoundedPool({
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    canStart: timeLeft,
    ...(options.isThrottled ? { isThrottled: options.isThrottled } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  const facts = { inUse: [] as string[], referenced: [] as string[], shared: [] as string[] };
  const expiredOldestFirst = plan
    .filter((decision) => decision.action === 'deregister')
    .map((decision) => decision.imageId)
    .reverse();

  for (const batch of chunks(expiredOldestFirst, options.batchSize ?? DEFAULT_BATCH_SIZE)) {
    if (!timeLeft()) break;
    const [inUse, referenced, sharing] = await Promise.all([
      ports.images.imagesInUse(batch),
      ports.images.imagesReferencedByParameters(batch),
      pool.run(batch, (id) => ports.images.sharedWith(id)),
    ]);
    facts.inUse.push(...inUse);
    facts.referenced.push(...referenced);
    // Not deleted without a known answer: unreadable → failed, not asked in time → deferred.
    const unchecked = new Map<string, string | undefined>();
    for (const result of sharing) {
      const foreign =
        result.status === 'done'
          ? result.value.filter((target) => !options.ownShareTargets?.includes(target))
          : [];
      if (foreign.length > 0) facts.shared.push(result.item);
      if (result.status === 'skipped') unchecked.set(result.item, undefined);
      if (result.status === 'failed') {
        unchecked.set(result.item, `launch permissions unreadable: ${describeError(result.error)}`);
      }
    }
    const checked = planRetention({
      ...base,
      inUseImageIds: facts.inUse,
      referencedImageIds: facts.referenced,
      sharedImageIds: facts.shared,
    });
    const decisions = new Map(checked.map((decision) => [decision.imageId, decision]));
    const doomed: string[] = [];
    for (const decision of batch.map((id) => decisions.get(id)).filter((d) => d !== undefined)) {
      const entry = entries.get(decision.imageId) as RetentionOutcomeEntry;
      Object.assign(entry, { action: decision.action, reason: decision.reason });
      const problem = unchecked.get(decision.imageId);
      if (decision.action === 'keep') entry.outcome = 'kept';
      else if (unchecked.has(decision.imageId))
        Object.assign(
          entry,
          problem === undefined ? { outcome: 'deferred' } : { outcome: 'failed', error: problem },
        );
      else if (dryRun) entry.outcome = 'planned';
      else doomed.push(decision.imageId);
    }
    for (const result of await pool.run(doomed, (id) => ports.images.deregisterImage(id))) {
      const entry = entries.get(result.item) as RetentionOutcomeEntry;
      if (result.status === 'done')
        Object.assign(entry, { outcome: 'deregistered', snapshots: result.value });
      if (result.status === 'failed') {
        // Re-runs converge: an image that is already gone counts as done.
        const gone = (await ports.images.getImage(result.item).catch(() => 'unknown')) === undefined;
        Object.assign(
          entry,
          gone ? { outcome: 'gone' } : { outcome: 'failed', error: describeError(result.error) },
        );
      }
    }
  }
  const warnings =
    pool.stats.throttled > 0
      ? [
          `rate limited ${pool.stats.throttled} time(s); concurrency went down to ${pool.stats.lowestConcurrency}`,
        ]
      : [];
  return retentionReport([...entries.values()], { dryRun, warnings });
}

/**
 * State `ApplyRetention` with distribution: {@link applyRetention} in the stack's own region, then
 * with the same rules in every other region of `$.build.distribution` (each region's images,
 * pointers and promotion: `$.promotion.regions`), one region after the other under the same time
 * budget. Deregistering a copy also deletes its snapshots, as at home. Launch permissions the
 * distribution itself granted (its share targets) do not keep an image: the other accounts are
 * the pipeline's consumers, who follow its channels. A region whose retention
 * throws is reported `partial` with its error, and the others still run.
 * @returns the stack's own region's report, with `regions`: each other region's outcome, counts
 *   and failed images; `outcome` is `partial` when any region's is.
 */
export async function applyRetentionInRegions(
  input: Parameters<typeof applyRetention>[0],
  ports: Pick<RegionalPorts, 'images' | 'pointer'> & { homeRegion: string },
  options: RetentionOptions,
): Promise<Retention> {
  const shareWith = input.build.distribution?.shareWith;
  const ownShareTargets = shareWith
    ? [...shareWith.accounts, ...shareWith.organizations, ...shareWith.organizationalUnits]
    : [];
  options = { ...options, ownShareTargets };
  const home = await applyRetention(
    input,
    { images: ports.images(ports.homeRegion), pointer: ports.pointer(ports.homeRegion) },
    options,
  );
  const others = (input.build.distribution?.regions ?? []).filter((target) => !target.home);
  if (others.length === 0) return home;
  const regions: NonNullable<Retention['regions']> = [];
  for (const { region } of others) {
    const promoted = input.promotion?.regions?.find((entry) => entry.region === region);
    const promotion =
      input.promotion && promoted
        ? { ...input.promotion, imageId: promoted.imageId, previousImageId: promoted.previousImageId }
        : undefined;
    try {
      const report = await applyRetention(
        { ...input, promotion },
        { images: ports.images(region), pointer: ports.pointer(region) },
        options,
      );
      regions.push({
        region,
        outcome: report.outcome ?? 'complete',
        counts: report.counts ?? {},
        outcomes: report.outcomes.filter((entry) => entry.outcome !== 'kept'),
      });
    } catch (error) {
      regions.push({ region, outcome: 'partial', counts: {}, outcomes: [], error: describeError(error) });
    }
  }
  const partial = home.outcome === 'partial' || regions.some((entry) => entry.outcome === 'partial');
  return { ...home, outcome: partial ? 'partial' : (home.outcome ?? 'complete'), regions };
}
