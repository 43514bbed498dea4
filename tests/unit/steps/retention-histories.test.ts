/**
 * Randomized promotion histories against the real PromoteImage and ApplyRetention steps, checked
 * by an independent model of the retention rule.
 *
 * One account holds pipeline `web` in two stages (`dev`, `prod`, tag `factory:stage`, one pointer
 * store each) and pipeline `api` in `dev`. A history is a sequence of events on a clock:
 * - bake: a new candidate image;
 * - promote: PromoteImage on a candidate, with a fault injected at its k-th port call (every call
 *   index is covered), either before the call takes effect or after it (the reply is lost), then
 *   maybe retried, as a re-run would;
 * - facts: an image gets used by an instance, named by a parameter, shared, made public, launched,
 *   or protected;
 * - retention: ApplyRetention for one stage of `web`, with throttling and denied deregistrations
 *   injected, then a fault-free re-run.
 *
 * The model is written from the rule's text, not from `core/retention.ts`. For every deletion it
 * checks that the image was not protected, current or previous on a pointer of any channel, in use,
 * referenced, shared, recently launched, among the newest 3 of its stage, 30 days old or younger,
 * or in another stage or pipeline. After a fault-free re-run, every image the model finds eligible
 * must be gone (re-runs converge).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChannelPosition, ImageRecord } from '#commons/ports.js';
import { applyRetention } from '#commons/steps/apply-retention.js';
import { promoteImage } from '#commons/steps/promote-image.js';
import { MemoryChannelPointer, MemoryImageStore } from '../helpers/fakes.js';
import { BUILD, DAY_MS } from '../helpers/fixtures.js';

const START = Date.parse('2026-01-01T00:00:00.000Z');
const CHANNELS = ['stable', 'beta'] as const;
const STAGES = ['dev', 'prod'] as const;
type Stage = (typeof STAGES)[number];

/** Histories run and deletions the model calls wrong, over the whole file. */
const tally = {
  histories: 0,
  promotions: 0,
  faultsInjected: 0,
  retentionRuns: 0,
  deleted: 0,
  wrong: 0,
  eligible: 0,
};
const faultedCallIndexes = new Set<number>();

// ---- the independent model ----

interface Facts {
  inUse: Set<string>;
  referenced: Set<string>;
  shared: Set<string>;
}

/** Why the rule forbids deleting `image` (undefined: it may be deleted). */
const modelProtection = (
  image: ImageRecord,
  scope: { pipeline: string; stage: Stage; now: number },
  all: readonly ImageRecord[],
  positions: ReadonlyMap<string, readonly ChannelPosition[]>,
  facts: Facts,
): string | undefined => {
  const inScope = (i: ImageRecord) =>
    i.tags['factory:pipeline'] === scope.pipeline && i.tags['factory:stage'] === scope.stage;
  if (!inScope(image)) return 'other stage or pipeline';
  if (image.tags['factory:protected'] === 'true') return 'protected';
  for (const [key, trail] of positions) {
    if (!key.startsWith(`${scope.pipeline}/`) || trail.length === 0) continue;
    let current = trail[0] as ChannelPosition;
    for (const p of trail) if (p.version > current.version) current = p;
    if (current.imageId === image.imageId) return 'current';
    let previous: ChannelPosition | undefined;
    for (const p of trail) {
      if (p.imageId !== current.imageId && (previous === undefined || p.version > previous.version))
        previous = p;
    }
    if (previous?.imageId === image.imageId) return 'previous';
  }
  if (facts.inUse.has(image.imageId)) return 'in use';
  if (facts.referenced.has(image.imageId)) return 'referenced';
  if (facts.shared.has(image.imageId) || image.public === true) return 'shared';
  if (image.lastLaunchedAt !== undefined && scope.now - Date.parse(image.lastLaunchedAt) <= 7 * DAY_MS)
    return 'recently launched';
  const newer = all.filter(
    (other) =>
      inScope(other) &&
      (Date.parse(other.createdAt) > Date.parse(image.createdAt) ||
        (other.createdAt === image.createdAt && other.imageId < image.imageId)),
  );
  if (newer.length < 3) return 'newest 3';
  if (scope.now - Date.parse(image.createdAt) <= 30 * DAY_MS) return '30 days or younger';
  return undefined;
};

/** Tags add protection (a half-applied promotion keeps more); the model needs it for liveness only. */
const promotedByTag = (image: ImageRecord): boolean => {
  const tag = image.tags['factory:channel'];
  return tag !== undefined && !['candidate', 'retired', 'rolled-back'].includes(tag);
};

// ---- fault injection ----

/** Wraps every method of a port: the call numbered `at` fails before or after taking effect. */
const faulty = <T extends object>(target: T, counter: { calls: number }, at: number, after: boolean): T =>
  new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const index = counter.calls++;
        if (index === at && !after) throw Object.assign(new Error('injected'), { name: 'InternalError' });
        const result = await value.apply(object, args);
        if (index === at && after) throw Object.assign(new Error('reply lost'), { name: 'RequestTimeout' });
        return result;
      };
    },
  });

// ---- histories ----

type Event =
  | { kind: 'bake'; stage: Stage; pipeline: 'web' | 'api'; advanceDays: number }
  | { kind: 'wait'; days: number }
  | {
      kind: 'promote';
      stage: Stage;
      pick: number;
      channel: (typeof CHANNELS)[number];
      faultAt: number;
      faultAfter: boolean;
      retry: boolean;
    }
  | {
      kind: 'fact';
      pick: number;
      fact: 'use' | 'reference' | 'share' | 'public' | 'launch' | 'protect' | 'release';
    }
  | { kind: 'retention'; stage: Stage; throttleEvery: number; denyPick: number };

const arbEvent: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('wait' as const), days: fc.integer({ min: 1, max: 45 }) }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('bake' as const),
      stage: fc.constantFrom(...STAGES),
      pipeline: fc.constantFrom('web' as const, 'web' as const, 'web' as const, 'api' as const),
      advanceDays: fc.integer({ min: 0, max: 10 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('promote' as const),
      stage: fc.constantFrom(...STAGES),
      pick: fc.nat(),
      channel: fc.constantFrom(...CHANNELS),
      faultAt: fc.integer({ min: 0, max: 8 }),
      faultAfter: fc.boolean(),
      retry: fc.boolean(),
    }),
  },
  {
    weight: 1,
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
      throttleEvery: fc.integer({ min: 0, max: 4 }),
      denyPick: fc.nat(),
    }),
  },
);

const runHistory = async (events: readonly Event[]): Promise<void> => {
  const images = new MemoryImageStore();
  const pointers: Record<Stage, MemoryChannelPointer> = {
    dev: new MemoryChannelPointer(),
    prod: new MemoryChannelPointer(),
  };
  const facts: Facts = { inUse: new Set(), referenced: new Set(), shared: new Set() };
  let clock = START;
  let serial = 0;
  const known: string[] = [];

  const retention = async (stage: Stage, throttleEvery: number, denied: string | undefined) => {
    images.inUse = [...facts.inUse];
    images.referencedByParameters = [...facts.referenced];
    images.shared = new Map([...facts.shared].map((id) => [id, ['444455556666']]));
    const before = structuredClone(images.images);
    const positions = pointers[stage].positions;
    let deregisterCalls = 0;
    const store = new Proxy(images, {
      get(object, property, receiver) {
        const value = Reflect.get(object, property, receiver);
        if (property !== 'deregisterImage') return typeof value === 'function' ? value.bind(object) : value;
        return async (id: string) => {
          deregisterCalls += 1;
          if (throttleEvery > 0 && deregisterCalls % throttleEvery === 0)
            throw Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded' });
          if (id === denied) throw Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' });
          return object.deregisterImage(id);
        };
      },
    });
    const result = await applyRetention(
      { build: { ...BUILD, pipeline: 'web', channel: 'stable' } },
      { images: store, pointer: pointers[stage] },
      {
        maxAgeDays: 30,
        keepLatest: 3,
        dryRun: false,
        stage,
        concurrency: 4,
        batchSize: 5,
        isThrottled: (error) => (error as Error).name === 'RequestLimitExceeded',
        sleep: () => new Promise<void>((resolve) => setImmediate(resolve)),
        now: () => new Date(clock),
      },
    );
    tally.retentionRuns += 1;
    const after = new Set(images.images.map((image) => image.imageId));
    for (const image of before.filter((i) => !after.has(i.imageId))) {
      tally.deleted += 1;
      const why = modelProtection(image, { pipeline: 'web', stage, now: clock }, before, positions, facts);
      if (why !== undefined) {
        tally.wrong += 1;
        throw new Error(`retention deleted ${image.imageId} (${why}); report ${JSON.stringify(result)}`);
      }
    }
    return { before, result };
  };

  for (const event of events) {
    if (event.kind === 'wait') {
      clock += event.days * DAY_MS;
    } else if (event.kind === 'bake') {
      clock += event.advanceDays * DAY_MS;
      serial += 1;
      const imageId = `ami-${serial.toString(16).padStart(17, '0')}`;
      known.push(imageId);
      images.images.push({
        imageId,
        name: `${event.pipeline}-${serial}`,
        createdAt: new Date(clock).toISOString(),
        tags: {
          'factory:pipeline': event.pipeline,
          'factory:stage': event.stage,
          'factory:channel': 'candidate',
          'factory:build-id': `${event.pipeline}-${serial}`,
        },
        snapshotIds: [imageId.replace('ami-', 'snap-')],
      });
    } else if (event.kind === 'promote') {
      const candidates = images.images.filter(
        (i) => i.tags['factory:pipeline'] === 'web' && i.tags['factory:stage'] === event.stage,
      );
      const candidate = candidates[event.pick % Math.max(1, candidates.length)];
      if (candidate === undefined) continue;
      const input = {
        build: { ...BUILD, pipeline: 'web', channel: event.channel },
        candidate: {
          imageId: candidate.imageId,
          name: candidate.name,
          createdAt: candidate.createdAt,
          snapshotIds: [],
        },
      };
      const counter = { calls: 0 };
      const ports = {
        images: faulty(images, counter, event.faultAt, event.faultAfter),
        pointer: faulty(pointers[event.stage], counter, event.faultAt, event.faultAfter),
      };
      tally.promotions += 1;
      try {
        await promoteImage(input, ports);
      } catch {
        tally.faultsInjected += 1;
        faultedCallIndexes.add(event.faultAt);
        if (event.retry) await promoteImage(input, { images, pointer: pointers[event.stage] });
      }
    } else if (event.kind === 'fact') {
      const id = known[event.pick % Math.max(1, known.length)];
      const image = images.images.find((i) => i.imageId === id);
      if (id === undefined || image === undefined) continue;
      if (event.fact === 'use') facts.inUse.add(id);
      if (event.fact === 'reference') facts.referenced.add(id);
      if (event.fact === 'share') facts.shared.add(id);
      if (event.fact === 'public') image.public = true;
      if (event.fact === 'launch') image.lastLaunchedAt = new Date(clock).toISOString();
      if (event.fact === 'protect') image.tags['factory:protected'] = 'true';
      if (event.fact === 'release') {
        facts.inUse.delete(id);
        facts.referenced.delete(id);
        facts.shared.delete(id);
      }
    } else {
      const denied = known[event.denyPick % Math.max(1, known.length)];
      await retention(event.stage, event.throttleEvery, denied);
      // A fault-free re-run converges: nothing the model finds eligible survives it.
      const { before, result } = await retention(event.stage, 0, undefined);
      const positions = pointers[event.stage].positions;
      for (const image of before) {
        const why = modelProtection(
          image,
          { pipeline: 'web', stage: event.stage, now: clock },
          before,
          positions,
          facts,
        );
        if (why === undefined && !promotedByTag(image)) {
          tally.eligible += 1;
          expect(
            images.images.map((i) => i.imageId),
            JSON.stringify(result),
          ).not.toContain(image.imageId);
        }
      }
      expect(result.outcome).toBe('complete');
    }
  }
};

describe('retention over randomized promotion histories (independent model)', () => {
  afterAll(() => {
    console.info(
      `retention histories: ${tally.histories} histories, ${tally.promotions} promotions ` +
        `(${tally.faultsInjected} with an injected fault, call indexes ${[...faultedCallIndexes].sort().join(',')}), ` +
        `${tally.retentionRuns} retention runs, ${tally.deleted} deletions, ${tally.wrong} wrong deletions, ` +
        `${tally.eligible} model-eligible images checked gone after the re-run`,
    );
  });

  it('never deletes a protected, current, previous, in-use or other-stage image; re-runs converge', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbEvent, { minLength: 20, maxLength: 80 }), async (events) => {
        tally.histories += 1;
        await runHistory(events);
      }),
      { numRuns: Number(process.env.HISTORIES ?? 1000), endOnFailure: true },
    );

    expect(tally.histories).toBeGreaterThanOrEqual(1000);
    expect(tally.wrong).toBe(0);
    expect(tally.deleted).toBeGreaterThan(tally.histories);
    // A fault was injected at every call PromoteImage makes (findImages, each tag write, the pointer).
    for (let index = 0; index <= 5; index++) expect(faultedCallIndexes).toContain(index);
  }, 300_000);
});
