/**
 * Randomized promotion histories against the real steps (AcquirePromotionLease, PromoteImage,
 * ReleasePromotionLease, CleanupAfterFailure, RollbackChannel, ApplyRetention) over the in-memory
 * ports, checked by an independent model of the retention rule and of the channel tag contract
 * (issue 9 point 3, last bullet).
 *
 * One account holds pipelines `web` and `api` in two stages (`dev`, `prod`: tag `factory:stage`,
 * one pointer store and one promotion ledger each), channels `stable` and `beta`. A history is a
 * sequence of events on a clock:
 * - bake: a build of (stage, pipeline, channel) registers its candidate; its build order is its
 *   source AMI's creation time (sometimes older than an earlier build's: it will be superseded)
 *   and the ledger's next sequence number;
 * - promote: one pending build runs the promotion tail as the ASL does. AcquirePromotionLease;
 *   PromoteImage with a fault at its k-th port call (every call index is covered: image reads, tag
 *   writes, the pointer's current / PutParameter / history). The call is refused, or takes effect
 *   and its reply is lost (both go to CleanupAfterFailure), or takes effect and the invocation
 *   fails with a Lambda service error (the state's Retry runs PromoteImage again). Then
 *   ReleasePromotionLease on success, or CleanupAfterFailure with `$.promotionLease`; the cleanup
 *   sometimes fails too: once (the state's Retry runs it again) or on all four attempts (the
 *   channel is left for a later repair). Sometimes a re-run follows: a new execution (attempt 2)
 *   bakes and promotes again without a fault;
 * - rollback: RollbackChannel of a channel by an operator; it must go back to the newest earlier
 *   image of the pointer's history that still exists and was not withdrawn (tags that lag behind
 *   the pointer must not steer it);
 * - facts: an image gets used by an instance, named by a parameter, shared, made public,
 *   launched, protected, or released from use;
 * - retention: ApplyRetention for one (stage, pipeline) with throttling and a denied
 *   deregistration injected, then a fault-free re-run.
 * After every promotion, cleanup and rollback, ApplyRetention runs for that stage and pipeline
 * (with `$.promotion` after a promotion, as the ASL passes it).
 *
 * A lease left behind by a failed cleanup lapses after its TTL; a waiting AcquirePromotionLease
 * (or rollback) advances the clock past it, as the ASL's PromotionLeaseHeld retrier outlasts it.
 *
 * The retention model is written from the rule's text (issue 9 point 3, the owner's rule), not
 * from `core/retention.ts`. For every deletion it checks that the image was not protected, the
 * current or previous image of any channel's pointer (highest version; highest version naming
 * another image), in use, referenced by a parameter, shared or public, launched within 7 days,
 * among the newest 3 of its pipeline and stage, 30 days old or younger, or another pipeline's or
 * stage's. When no repair is pending for the pipeline and stage (no cleanup left it failed),
 * every image the model finds eligible must be gone after a fault-free run; the one image the
 * tags may keep on top of the pointers is a channel's `previous-<channel>` rollback target
 * (checked by the tag model below).
 *
 * The tag model: for each channel of a stage and pipeline whose last repair did not fail, exactly
 * the image its pointer names is tagged `<channel>`, and `previous-<channel>` is on the newest
 * earlier image of the pointer's history that still exists and was not withdrawn by a rollback
 * (or on none). It is checked after every successful PromoteImage (promoted or superseded),
 * CleanupAfterFailure and RollbackChannel. At the end of a history, each channel whose repair is
 * still pending gets one more execution (an older build: usually superseded), after which every
 * channel of both stages must agree.
 *
 * Stage scope of the promotion steps: PromoteImage, CleanupAfterFailure and RollbackChannel read
 * the pipeline's images with `findImages({ factory:pipeline })`, and a `Build` carries no stage. The
 * test gives each stage's steps the image store that stage's deployment reads: its own images
 * ({@link stageImages}), as stage isolation (issue 9 point 4) requires. Given the whole account
 * instead, a promotion in one stage retires the other stage's channel tags (about 1 450 pointer/tag
 * disagreements over the default 1000 histories, no wrong deletion: the pointers still protect).
 * ApplyRetention gets the whole account and its `stage` option.
 *
 * Seeded: HISTORY_SEED (default below) and HISTORIES (default 1000) set the run; on failure
 * fast-check prints the seed and the path of the failing history.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { PROMOTION_LEASE_TTL_SECONDS } from '#commons/core/promotion-lease.js';
import { CandidateNotFound, InvalidInput, PromotionLeaseHeld } from '#commons/errors.js';
import type { ChannelPosition, ImageRecord, ImageStore, PromotionLease } from '#commons/ports.js';
import type { Build, Candidate, Promotion } from '#commons/schemas.js';
import { acquirePromotionLease } from '#commons/steps/acquire-promotion-lease.js';
import { applyRetention } from '#commons/steps/apply-retention.js';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import { promoteImage } from '#commons/steps/promote-image.js';
import { releasePromotionLease } from '#commons/steps/release-promotion-lease.js';
import { rollbackChannel } from '#commons/steps/rollback-channel.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryLauncher,
  MemoryPromotionLedger,
  RecordingEventPublisher,
} from '../helpers/fakes.js';
import { BUILD, DAY_MS } from '../helpers/fixtures.js';

const SEED = Number(process.env.HISTORY_SEED ?? 20_260_109);
const HISTORIES = Number(process.env.HISTORIES ?? 1000);
const START = Date.parse('2026-01-01T00:00:00.000Z');
const STAGES = ['dev', 'prod'] as const;
const PIPELINES = ['web', 'api'] as const;
const CHANNELS = ['stable', 'beta'] as const;
type Stage = (typeof STAGES)[number];
type Pipeline = (typeof PIPELINES)[number];
type Channel = (typeof CHANNELS)[number];

/** The owner's rule and its safeguards, as issue 9 states them. */
const RULE = { maxAgeDays: 30, keepLatest: 3, recentLaunchDays: 7 };
/** ASL: CleanupAfterFailure runs once and is retried up to 3 times on any error. */
const CLEANUP_ATTEMPTS = 4;

/** Counts over the whole file, printed in one line at the end. */
const tally = {
  histories: 0,
  promotions: 0,
  promoted: 0,
  superseded: 0,
  faults: 0,
  retriedByAsl: 0,
  failedPromotions: 0,
  cleanups: 0,
  cleanupFaults: 0,
  failedCleanups: 0,
  repairedAtEnd: 0,
  reruns: 0,
  rollbacks: 0,
  rollbacksRefused: 0,
  leaseWaits: 0,
  retentionRuns: 0,
  deleted: 0,
  wrong: 0,
  eligibleGone: 0,
  keptAsRollbackTarget: 0,
  livenessSkipped: 0,
  agreementChecks: 0,
  disagreements: 0,
};
/** Faults injected into PromoteImage, by call index, and the port methods seen at each index. */
const faultsByCall = new Map<number, number>();
const methodsByCall = new Map<number, Set<string>>();
/** Most port calls a PromoteImage made without a fault, on a channel whose tags agreed with its pointer. */
let longestPromotion = 0;

const key = (stage: Stage, pipeline: Pipeline, channel: Channel) => `${stage}/${pipeline}/${channel}`;

// ---- the world: one account, two stages ----

interface BuildRun {
  stage: Stage;
  build: Build;
  candidate: Candidate;
}

interface StagePorts {
  /** The image store this stage's promotion steps read: its own images. */
  images: ImageStore;
  pointer: MemoryChannelPointer;
  ledger: MemoryPromotionLedger;
}

interface World {
  clock: number;
  serial: number;
  account: MemoryImageStore;
  stages: Record<Stage, StagePorts>;
  /** Baked, not yet promoted. */
  pending: BuildRun[];
  /** Channels (`stage/pipeline/channel`) whose cleanup failed on every attempt: a repair is pending. */
  dirty: Set<string>;
}

/**
 * The account's image store as one stage's deployment sees it: `findImages` answers with that
 * stage's images only (the stage-scoped wiring of issue 9 point 4); the other calls pass through.
 */
const stageImages = (account: MemoryImageStore, stage: Stage): ImageStore => ({
  findImages: (tags) => account.findImages({ ...tags, 'factory:stage': stage }),
  getImage: (imageId) => account.getImage(imageId),
  tagImage: (imageId, tags) => account.tagImage(imageId, tags),
  imagesInUse: (imageIds) => account.imagesInUse(imageIds),
  deregisterImage: (imageId) => account.deregisterImage(imageId),
  imagesReferencedByParameters: (imageIds) => account.imagesReferencedByParameters(imageIds),
  sharedWith: (imageId) => account.sharedWith(imageId),
});

const newWorld = (): World => {
  const account = new MemoryImageStore();
  const ports = (stage: Stage): StagePorts => ({
    images: stageImages(account, stage),
    pointer: new MemoryChannelPointer(),
    ledger: new MemoryPromotionLedger(() => new Date(world.clock), stage),
  });
  const world: World = {
    clock: START,
    serial: 0,
    account,
    stages: { dev: ports('dev'), prod: ports('prod') },
    pending: [],
    dirty: new Set(),
  };
  return world;
};

// ---- the independent models ----

/** Current (highest version) and previous (highest version naming another image) of a pointer. */
const pointed = (trail: readonly ChannelPosition[]): { current?: string; previous?: string } => {
  let current: ChannelPosition | undefined;
  for (const p of trail) if (current === undefined || p.version > current.version) current = p;
  let previous: ChannelPosition | undefined;
  for (const p of trail) {
    if (p.imageId !== current?.imageId && (previous === undefined || p.version > previous.version))
      previous = p;
  }
  return { current: current?.imageId, previous: previous?.imageId };
};

/**
 * The rule for one run of (pipeline, stage) at `now` over the images `all` that existed before it.
 * @returns why the rule forbids deleting an image (undefined: it may go).
 */
const modelRule = (
  scope: { pipeline: Pipeline; stage: Stage; now: number },
  all: readonly ImageRecord[],
  world: World,
): ((image: ImageRecord) => string | undefined) => {
  const inScope = (i: ImageRecord) =>
    i.tags['factory:pipeline'] === scope.pipeline && i.tags['factory:stage'] === scope.stage;
  // Any channel of any pipeline and stage: broader than needed, never narrower.
  const current = new Set<string>();
  const previous = new Set<string>();
  for (const stage of STAGES) {
    for (const trail of world.stages[stage].pointer.positions.values()) {
      const pointer = pointed(trail);
      if (pointer.current !== undefined) current.add(pointer.current);
      if (pointer.previous !== undefined) previous.add(pointer.previous);
    }
  }
  const created = (i: ImageRecord) => Date.parse(i.createdAt);
  const ours = all.filter(inScope).map((i) => ({ id: i.imageId, createdMs: created(i) }));
  return (image) => {
    if (!inScope(image)) return 'other stage or pipeline';
    if (image.tags['factory:protected'] === 'true') return 'protected';
    if (current.has(image.imageId)) return 'current';
    if (previous.has(image.imageId)) return 'previous';
    if (world.account.inUse.includes(image.imageId)) return 'in use';
    if (world.account.referencedByParameters.includes(image.imageId)) return 'referenced';
    if ((world.account.shared.get(image.imageId) ?? []).length > 0 || image.public === true) return 'shared';
    if (
      image.lastLaunchedAt !== undefined &&
      scope.now - Date.parse(image.lastLaunchedAt) <= RULE.recentLaunchDays * DAY_MS
    )
      return 'recently launched';
    const createdMs = created(image);
    const newer = ours.filter(
      (other) => other.createdMs > createdMs || (other.createdMs === createdMs && other.id < image.imageId),
    );
    if (newer.length < RULE.keepLatest) return 'newest 3';
    if (scope.now - createdMs <= RULE.maxAgeDays * DAY_MS) return '30 days or younger';
    return undefined;
  };
};

/**
 * The channel's rollback target by the tag contract: the newest position of the pointer's history
 * that names another image than the current one, still exists and was not withdrawn by a rollback.
 */
const rollbackTarget = (world: World, stage: Stage, pipeline: Pipeline, channel: Channel) => {
  const trail = [...(world.stages[stage].pointer.positions.get(`${pipeline}/${channel}`) ?? [])].sort(
    (a, b) => b.version - a.version,
  );
  const { current } = pointed(trail);
  return trail.find((p) => {
    const image = world.account.images.find((i) => i.imageId === p.imageId);
    return (
      p.imageId !== current &&
      image?.tags['factory:stage'] === stage &&
      image.tags['factory:channel'] !== 'rolled-back'
    );
  })?.imageId;
};

/** Channels of the stage whose `factory:channel` tags do not agree with the pointer (clean ones only). */
const disagreements = (world: World, stage: Stage): string[] => {
  const problems: string[] = [];
  for (const pipeline of PIPELINES) {
    const mine = world.account.images.filter(
      (i) => i.tags['factory:pipeline'] === pipeline && i.tags['factory:stage'] === stage,
    );
    for (const channel of CHANNELS) {
      if (world.dirty.has(key(stage, pipeline, channel))) continue;
      tally.agreementChecks += 1;
      const { current } = pointed(world.stages[stage].pointer.positions.get(`${pipeline}/${channel}`) ?? []);
      const want = {
        current: mine.some((i) => i.imageId === current) ? [current] : [],
        previous: [rollbackTarget(world, stage, pipeline, channel)].filter((id) => id !== undefined),
      };
      const have = {
        current: mine.filter((i) => i.tags['factory:channel'] === channel).map((i) => i.imageId),
        previous: mine
          .filter((i) => i.tags['factory:channel'] === `previous-${channel}`)
          .map((i) => i.imageId),
      };
      if (JSON.stringify(want) !== JSON.stringify(have)) {
        problems.push(
          `${key(stage, pipeline, channel)}: pointer says ${JSON.stringify(want)}, tags ${JSON.stringify(have)}`,
        );
      }
    }
  }
  return problems;
};

const expectAgreement = (world: World, stage: Stage, after: string) => {
  const problems = disagreements(world, stage);
  tally.disagreements += problems.length;
  if (problems.length > 0) throw new Error(`after ${after}: ${problems.join('; ')}`);
};

// ---- fault injection ----

/** How an injected fault shows: the call refused, its reply lost, or the invocation failing. */
type FaultMode = 'refused' | 'reply-lost' | 'interrupted';

interface Injector {
  calls: number;
  /** Index of the call that faults (none when the step makes fewer calls). */
  at: number;
  mode: FaultMode;
  fired?: { index: number; method: string };
  methods: string[];
}

const injector = (at: number, mode: FaultMode): Injector => ({ calls: 0, at, mode, methods: [] });

/** An error as the SDK throws it (without a stack: thousands are thrown, none is read). */
const awsError = (name: string, message: string) => {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const error = Object.assign(new Error(message), { name });
  Error.stackTraceLimit = limit;
  return error;
};

/** Wraps every method of a port; the injector's call number `at` faults as its mode says. */
const faulty = <T extends object>(target: T, faults: Injector): T =>
  new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const index = faults.calls++;
        faults.methods.push(String(property));
        const hit = index === faults.at;
        if (hit) faults.fired = { index, method: String(property) };
        if (hit && faults.mode === 'refused') throw awsError('InternalError', 'injected: call refused');
        const result = await value.apply(object, args);
        if (hit && faults.mode === 'reply-lost') throw awsError('RequestTimeout', 'injected: reply lost');
        // A Lambda service error after the function made the call: the state's Retry runs it again.
        if (hit) throw awsError('Lambda.ServiceException', 'injected: invocation failed');
        return result;
      };
    },
  });

/** True for the errors this test injects (anything else is a bug the test must report). */
const injected = (error: unknown): boolean => error instanceof Error && error.message.startsWith('injected:');

/**
 * Run `act`; while another holder's lease blocks it, wait out the TTL (the ASL's
 * PromotionLeaseHeld retrier and an operator's retry both outlast it) and run it once more.
 */
const pastLease = async <T>(world: World, act: () => Promise<T>): Promise<T> => {
  try {
    return await act();
  } catch (error) {
    if (!(error instanceof PromotionLeaseHeld)) throw error;
    tally.leaseWaits += 1;
    world.clock += (PROMOTION_LEASE_TTL_SECONDS + 60) * 1000;
    return act();
  }
};

// ---- steps as the ASL runs them ----

const retention = async (
  world: World,
  stage: Stage,
  pipeline: Pipeline,
  options: { promotion?: Promotion; channel?: Channel; throttleEvery?: number; denied?: string } = {},
) => {
  const before = await world.account.findImages({});
  const throttleEvery = options.throttleEvery ?? 0;
  let deregisterCalls = 0;
  const account = world.account;
  const store = new Proxy(account, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (property !== 'deregisterImage') return typeof value === 'function' ? value.bind(object) : value;
      return async (id: string) => {
        deregisterCalls += 1;
        if (throttleEvery > 0 && deregisterCalls % throttleEvery === 0)
          throw awsError('RequestLimitExceeded', 'Request limit exceeded.');
        if (id === options.denied) throw awsError('UnauthorizedOperation', 'denied');
        return object.deregisterImage(id);
      };
    },
  });
  const result = await applyRetention(
    {
      build: { ...BUILD, pipeline, channel: options.channel ?? 'stable' },
      ...(options.promotion ? { promotion: options.promotion } : {}),
    },
    { images: store, pointer: world.stages[stage].pointer },
    {
      ...RULE,
      dryRun: false,
      stage,
      concurrency: 4,
      batchSize: 5,
      isThrottled: (error) => (error as Error).name === 'RequestLimitExceeded',
      sleep: () => new Promise<void>((resolve) => setImmediate(resolve)),
      now: () => new Date(world.clock),
    },
  );
  tally.retentionRuns += 1;
  const after = new Set(account.images.map((image) => image.imageId));
  const rule = modelRule({ pipeline, stage, now: world.clock }, before, world);
  for (const image of before.filter((i) => !after.has(i.imageId))) {
    tally.deleted += 1;
    const why = rule(image);
    if (why !== undefined) {
      tally.wrong += 1;
      throw new Error(`retention of ${stage}/${pipeline} deleted ${image.imageId} (${why})`);
    }
  }
  const faultFree = throttleEvery === 0 && options.denied === undefined;
  const repairPending = CHANNELS.some((channel) => world.dirty.has(key(stage, pipeline, channel)));
  if (!faultFree) return;
  if (repairPending) {
    tally.livenessSkipped += 1;
    return;
  }
  // Converged: nothing the model finds eligible survives, but a channel's rollback target.
  if (result.outcome !== 'complete') throw new Error(`fault-free retention was ${result.outcome}`);
  for (const image of before) {
    if (rule(image) !== undefined) continue;
    if (image.tags['factory:channel']?.startsWith('previous-')) {
      const channel = image.tags['factory:channel'].slice('previous-'.length) as Channel;
      if (rollbackTarget(world, stage, pipeline, channel) !== image.imageId)
        throw new Error(
          `retention kept ${image.imageId}, tagged ${channel}'s previous image but not its rollback target`,
        );
      tally.keptAsRollbackTarget += 1;
      continue;
    }
    tally.eligibleGone += 1;
    if (after.has(image.imageId)) {
      throw new Error(
        `retention of ${stage}/${pipeline} kept ${image.imageId} that the rule deletes: ${JSON.stringify(
          result.outcomes?.find((o) => o.imageId === image.imageId),
        )}`,
      );
    }
  }
};

const bake = async (
  world: World,
  stage: Stage,
  pipeline: Pipeline,
  channel: Channel,
  sourceLagDays: number,
) => {
  world.serial += 1;
  const serial = world.serial;
  const imageId = `ami-${serial.toString(16).padStart(17, '0')}`;
  const createdAt = new Date(world.clock).toISOString();
  const buildId = `${pipeline}-${serial.toString(16).padStart(12, '0')}`;
  world.account.images.push({
    imageId,
    name: buildId,
    createdAt,
    tags: {
      'factory:pipeline': pipeline,
      'factory:stage': stage,
      'factory:channel': 'candidate',
      'factory:build-id': buildId,
    },
    snapshotIds: [imageId.replace('ami-', 'snap-')],
  });
  const executionName = `${stage}-${buildId}`;
  const run: BuildRun = {
    stage,
    build: {
      ...BUILD,
      buildId,
      pipeline,
      channel,
      executionName,
      executionArn: `arn:aws:states:eu-west-1:123456789012:execution:image-factory-${stage}:${executionName}`,
      startedAt: createdAt,
      order: {
        sourceCreatedAt: new Date(world.clock - sourceLagDays * DAY_MS).toISOString(),
        sequence: await world.stages[stage].ledger.nextSequence(pipeline),
      },
    },
    candidate: { imageId, name: buildId, createdAt, snapshotIds: [imageId.replace('ami-', 'snap-')] },
  };
  world.pending.push(run);
  return run;
};

interface PromotionFault {
  /** PromoteImage's call that faults; beyond its last call: no fault. */
  at: number;
  mode: FaultMode;
  /**
   * CleanupAfterFailure attempts that fail at call `cleanupAt`: 1 (the state's Retry runs it
   * again), or 4 (every attempt the ASL makes: an outage of that call; the repair is left pending).
   */
  cleanupFailures: number;
  cleanupAt: number;
  cleanupMode: 'refused' | 'reply-lost';
  rerun: boolean;
}

const NO_FAULT: PromotionFault = {
  at: -1,
  mode: 'refused',
  cleanupFailures: 0,
  cleanupAt: 0,
  cleanupMode: 'refused',
  rerun: false,
};

/** The promotion tail of one execution: lease, PromoteImage, release or cleanup, retention. */
const promote = async (world: World, run: BuildRun, fault: PromotionFault): Promise<void> => {
  const { stage, build, candidate } = run;
  const { pipeline, channel } = build as Build & { pipeline: Pipeline; channel: Channel };
  const ports = world.stages[stage];
  tally.promotions += 1;
  const repairPending = world.dirty.has(key(stage, pipeline, channel));
  const lease: PromotionLease = await pastLease(world, () =>
    acquirePromotionLease({ build }, { ledger: ports.ledger }),
  );
  const faults = injector(fault.at, fault.mode);
  const faulted = {
    images: faulty(ports.images, faults),
    pointer: faulty(ports.pointer, faults),
    events: new RecordingEventPublisher(),
  };
  let promotion: Promotion | undefined;
  let failure: Error | undefined;
  try {
    promotion = await promoteImage({ build, candidate }, faulted);
  } catch (error) {
    if (!injected(error) && !(error instanceof CandidateNotFound)) throw error;
    failure = error as Error;
  }
  faults.methods.forEach((method, index) => {
    methodsByCall.set(index, (methodsByCall.get(index) ?? new Set()).add(method));
  });
  if (faults.fired) {
    tally.faults += 1;
    faultsByCall.set(faults.fired.index, (faultsByCall.get(faults.fired.index) ?? 0) + 1);
  } else if (failure === undefined && !repairPending) {
    longestPromotion = Math.max(longestPromotion, faults.calls);
  }
  if (failure?.name === 'Lambda.ServiceException') {
    tally.retriedByAsl += 1;
    failure = undefined;
    try {
      promotion = await promoteImage(
        { build, candidate },
        { ...ports, events: new RecordingEventPublisher() },
      );
    } catch (error) {
      if (!(error instanceof CandidateNotFound)) throw error;
      failure = error;
    }
  }

  if (promotion !== undefined) {
    await releasePromotionLease({ build }, { ledger: ports.ledger });
    tally[promotion.outcome] += 1;
    world.dirty.delete(key(stage, pipeline, channel));
    expectAgreement(world, stage, `PromoteImage of ${build.buildId} (${promotion.outcome})`);
    if (promotion.outcome === 'promoted') await retention(world, stage, pipeline, { promotion, channel });
    return;
  }

  tally.failedPromotions += 1;
  let repaired = false;
  for (let attempt = 0; attempt < CLEANUP_ATTEMPTS && !repaired; attempt++) {
    const cleanupFaults = injector(attempt < fault.cleanupFailures ? fault.cleanupAt : -1, fault.cleanupMode);
    try {
      await cleanupAfterFailure(
        {
          build,
          candidate,
          termination: { terminatedInstanceIds: [] },
          error: { Error: failure?.name ?? 'Error', Cause: failure?.message },
          promotionLease: lease,
        },
        {
          launcher: new MemoryLauncher(),
          images: faulty(ports.images, cleanupFaults),
          pointer: faulty(ports.pointer, cleanupFaults),
          ledger: faulty(ports.ledger, cleanupFaults),
        },
      );
      repaired = true;
    } catch (error) {
      if (!injected(error)) throw error;
      tally.cleanupFaults += 1;
    }
  }
  if (repaired) {
    tally.cleanups += 1;
    world.dirty.delete(key(stage, pipeline, channel));
    expectAgreement(world, stage, `CleanupAfterFailure of ${build.buildId}`);
  } else {
    tally.failedCleanups += 1;
    world.dirty.add(key(stage, pipeline, channel));
  }
  await retention(world, stage, pipeline, { channel });
  if (fault.rerun) {
    // A re-run: a new execution (attempt 2) of the same source bakes and promotes again.
    tally.reruns += 1;
    const lag = (world.clock - Date.parse(build.order?.sourceCreatedAt ?? '')) / DAY_MS;
    const again = await bake(world, stage, pipeline, channel, lag);
    world.pending.pop();
    await promote(world, again, NO_FAULT);
  }
};

/** The channel's pointer history and its images' `factory:channel` tags, for failure messages. */
const describeChannel = (world: World, stage: Stage, pipeline: Pipeline, channel: Channel): string => {
  const trail = world.stages[stage].pointer.positions.get(`${pipeline}/${channel}`) ?? [];
  const tags = world.account.images
    .filter((i) => i.tags['factory:pipeline'] === pipeline && i.tags['factory:stage'] === stage)
    .map((i) => `${i.imageId}=${i.tags['factory:channel']}`);
  return `pointer ${trail.map((p) => `v${p.version}:${p.imageId}`).join(' ')}; tags ${tags.join(' ')}${
    world.dirty.has(key(stage, pipeline, channel)) ? '; repair pending' : ''
  }`;
};

const rollback = async (world: World, stage: Stage, pipeline: Pipeline, channel: Channel) => {
  const ports = world.stages[stage];
  const target = rollbackTarget(world, stage, pipeline, channel);
  const before = describeChannel(world, stage, pipeline, channel);
  world.serial += 1;
  const holder = `operator-${world.serial}`;
  try {
    const result = await pastLease(world, () =>
      rollbackChannel(
        { pipeline, channel },
        {
          images: ports.images,
          pointer: ports.pointer,
          ledger: ports.ledger,
          events: new RecordingEventPublisher(),
        },
        {
          holder,
        },
      ),
    );
    tally.rollbacks += 1;
    expect(result.imageId, `rollback of ${key(stage, pipeline, channel)} from ${before}`).toBe(target);
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    tally.rollbacksRefused += 1;
    expect(
      target,
      `rollback of ${key(stage, pipeline, channel)} from ${before}: ${error.message}`,
    ).toBeUndefined();
    return;
  }
  world.dirty.delete(key(stage, pipeline, channel));
  expectAgreement(world, stage, `RollbackChannel of ${key(stage, pipeline, channel)}`);
  await retention(world, stage, pipeline, { channel });
};

// ---- histories ----

type Event =
  | { kind: 'wait'; days: number }
  | {
      kind: 'bake';
      stage: Stage;
      pipeline: Pipeline;
      channel: Channel;
      advanceDays: number;
      sourceLagDays: number;
    }
  | ({ kind: 'promote'; pick: number } & PromotionFault)
  | { kind: 'rollback'; pick: number }
  | {
      kind: 'fact';
      pick: number;
      fact: 'use' | 'reference' | 'share' | 'public' | 'launch' | 'protect' | 'release';
    }
  | { kind: 'retention'; stage: Stage; pipeline: Pipeline; throttleEvery: number; denyPick: number };

const arbEvent: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('wait' as const), days: fc.integer({ min: 1, max: 45 }) }),
  },
  {
    weight: 7,
    arbitrary: fc.record({
      kind: fc.constant('bake' as const),
      // Two builds in dev for one in prod, of web for one of api: most scopes pass the newest three.
      stage: fc.constantFrom<Stage>('dev', 'dev', 'prod'),
      pipeline: fc.constantFrom<Pipeline>('web', 'web', 'api'),
      channel: fc.constantFrom<Channel>('stable', 'stable', 'stable', 'beta'),
      advanceDays: fc.integer({ min: 0, max: 10 }),
      sourceLagDays: fc.constantFrom(0, 0, 0, 3, 12),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('promote' as const),
      pick: fc.nat(),
      // Beyond PromoteImage's last call (about 1 in 4): a promotion without a fault.
      at: fc.integer({ min: 0, max: 10 }),
      mode: fc.constantFrom<FaultMode>('refused', 'reply-lost', 'interrupted'),
      cleanupFailures: fc.constantFrom(0, 0, 0, 1, CLEANUP_ATTEMPTS),
      cleanupAt: fc.integer({ min: 0, max: 4 }),
      cleanupMode: fc.constantFrom('refused' as const, 'reply-lost' as const),
      rerun: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rollback' as const),
      pick: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fact' as const),
      pick: fc.nat(),
      fact: fc.constantFrom('use', 'reference', 'share', 'public', 'launch', 'protect', 'release'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('retention' as const),
      stage: fc.constantFrom(...STAGES),
      pipeline: fc.constantFrom(...PIPELINES),
      throttleEvery: fc.integer({ min: 0, max: 4 }),
      denyPick: fc.nat(),
    }),
  },
);

const runHistory = async (events: readonly Event[]): Promise<void> => {
  const world = newWorld();
  for (const event of events) {
    if (event.kind === 'wait') {
      world.clock += event.days * DAY_MS;
    } else if (event.kind === 'bake') {
      world.clock += event.advanceDays * DAY_MS;
      await bake(world, event.stage, event.pipeline, event.channel, event.sourceLagDays);
    } else if (event.kind === 'promote') {
      const run = world.pending.splice(event.pick % Math.max(1, world.pending.length), 1)[0];
      if (run !== undefined) await promote(world, run, event);
    } else if (event.kind === 'rollback') {
      // A channel that has a pointer (a rollback of any other is refused before it starts).
      const channels = STAGES.flatMap((stage) =>
        [...world.stages[stage].pointer.positions.keys()].map((name) => {
          const [pipeline, channel] = name.split('/') as [Pipeline, Channel];
          return { stage, pipeline, channel };
        }),
      );
      const picked = channels[event.pick % Math.max(1, channels.length)];
      if (picked !== undefined) await rollback(world, picked.stage, picked.pipeline, picked.channel);
    } else if (event.kind === 'fact') {
      const image = world.account.images[event.pick % Math.max(1, world.account.images.length)];
      if (image === undefined) continue;
      const id = image.imageId;
      const account = world.account;
      if (event.fact === 'use') account.inUse.push(id);
      if (event.fact === 'reference') account.referencedByParameters.push(id);
      if (event.fact === 'share') account.shared.set(id, ['444455556666']);
      if (event.fact === 'public') image.public = true;
      if (event.fact === 'launch') image.lastLaunchedAt = new Date(world.clock).toISOString();
      if (event.fact === 'protect') image.tags['factory:protected'] = 'true';
      if (event.fact === 'release') {
        account.inUse = account.inUse.filter((other) => other !== id);
        account.referencedByParameters = account.referencedByParameters.filter((other) => other !== id);
        account.shared.delete(id);
      }
    } else {
      const ids = world.account.images.map((i) => i.imageId);
      const denied = ids[event.denyPick % Math.max(1, ids.length)];
      await retention(world, event.stage, event.pipeline, {
        throttleEvery: event.throttleEvery,
        ...(denied === undefined ? {} : { denied }),
      });
      // The next run, without faults, converges.
      await retention(world, event.stage, event.pipeline);
    }
  }
  // Every repair left pending is made by the channel's next execution, whatever its outcome.
  for (const pending of [...world.dirty].sort()) {
    const [stage, pipeline, channel] = pending.split('/') as [Stage, Pipeline, Channel];
    tally.repairedAtEnd += 1;
    world.clock += DAY_MS;
    const run = await bake(world, stage, pipeline, channel, 30);
    world.pending.pop();
    await promote(world, run, NO_FAULT);
  }
  expect(world.dirty.size).toBe(0);
  for (const stage of STAGES) expectAgreement(world, stage, 'the end of the history');
};

const summary = (): string => {
  const byCall = [...faultsByCall.keys()]
    .sort((a, b) => a - b)
    .map(
      (index) =>
        `#${index} ${[...(methodsByCall.get(index) ?? [])].sort().join('/')} ${faultsByCall.get(index)}`,
    )
    .join(', ');
  return (
    `promotion histories (seed ${SEED}): ${tally.histories} histories; ${tally.promotions} promotions attempted ` +
    `(${tally.promoted} promoted, ${tally.superseded} superseded, ${tally.failedPromotions} failed); ` +
    `${tally.faults} faults injected into PromoteImage by call index [${byCall}], ${tally.retriedByAsl} re-run by the state's Retry; ` +
    `${tally.cleanups} cleanups repaired their channel (${tally.cleanupFaults} cleanup attempts faulted), ` +
    `${tally.failedCleanups} failed on every attempt (${tally.repairedAtEnd} channels still pending at the end of a history, repaired by one more execution), ${tally.reruns} re-runs; ` +
    `${tally.rollbacks} rollbacks (${tally.rollbacksRefused} refused: no target); ${tally.leaseWaits} waits for a lapsed lease; ` +
    `${tally.retentionRuns} retention runs, ${tally.deleted} deregistrations, ${tally.wrong} wrong deletions, ` +
    `${tally.eligibleGone} eligible images checked gone (${tally.keptAsRollbackTarget} kept as a rollback target, ` +
    `${tally.livenessSkipped} runs with a repair pending); ` +
    `${tally.agreementChecks} pointer/tag checks after a step, ${tally.disagreements} disagreements`
  );
};

describe('retention over randomized promotion histories with faults (independent model)', () => {
  afterAll(() => {
    console.log(summary());
  });

  it('never deletes a protected, current, previous, in-use or other-stage image; cleanup repairs every channel; re-runs converge', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbEvent, { minLength: 20, maxLength: 70 }), async (events) => {
        tally.histories += 1;
        await runHistory(events);
      }),
      { seed: SEED, numRuns: HISTORIES, endOnFailure: true },
    );

    expect(tally.histories).toBe(HISTORIES);
    expect(tally.wrong).toBe(0);
    expect(tally.disagreements).toBe(0);
    // The histories exercised what they claim to.
    expect(tally.deleted).toBeGreaterThan(tally.histories);
    expect(tally.eligibleGone).toBeGreaterThan(0);
    expect(tally.superseded).toBeGreaterThan(0);
    expect(tally.failedCleanups).toBeGreaterThan(0);
    expect(tally.repairedAtEnd).toBeGreaterThan(0);
    expect(tally.rollbacks).toBeGreaterThan(0);
    expect(tally.leaseWaits).toBeGreaterThan(0);
    // A fault was injected at every call a PromoteImage makes.
    expect(longestPromotion).toBeGreaterThanOrEqual(5);
    for (let index = 0; index < longestPromotion; index++) expect(faultsByCall.get(index)).toBeGreaterThan(0);
    // A hang guard, not a speed check: about 10 s of CPU, minutes on a machine under load.
  }, 300_000);
});
