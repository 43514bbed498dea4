import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionImage } from '#commons/core/retention.js';

const NOW = new Date('2026-06-30T12:00:00.000Z');
const DAY = 86_400_000;
const PIPELINE = 'web';

const daysAgo = (days: number): string => new Date(NOW.getTime() - days * DAY).toISOString();
const image = (id: string, ageDays: number, tags: Record<string, string> = {}): RetentionImage => ({
  imageId: id,
  createdAt: daysAgo(ageDays),
  tags: { 'factory:pipeline': PIPELINE, ...tags },
});
/** `count` images one day apart, the newest `newestAge` days old. */
const catalog = (count: number, newestAge: number): RetentionImage[] =>
  Array.from({ length: count }, (_, i) => image(`ami-${String(i).padStart(8, '0')}`, newestAge + i));
const decisionOf = (plan: ReturnType<typeof planRetention>, id: string) => plan.find((d) => d.imageId === id);

describe('planRetention — age boundary (keepLatest 0)', () => {
  it.each([
    [29, 'keep', 'within-age'],
    [30, 'keep', 'within-age'],
    [31, 'deregister', 'expired'],
  ])('an image %i days old → %s (%s)', (age, action, reason) => {
    const plan = planRetention({
      images: [image('ami-00000001', age)],
      now: NOW,
      pipeline: PIPELINE,
      keepLatest: 0,
    });
    expect(plan).toEqual([{ imageId: 'ami-00000001', action, reason, ageDays: age }]);
  });

  it('keeps an image exactly 30 days old and deregisters one a millisecond older', () => {
    const exact = {
      imageId: 'ami-0000000a',
      createdAt: new Date(NOW.getTime() - 30 * DAY).toISOString(),
      tags: { 'factory:pipeline': PIPELINE },
    };
    const older = {
      ...exact,
      imageId: 'ami-0000000b',
      createdAt: new Date(NOW.getTime() - 30 * DAY - 1).toISOString(),
    };
    const plan = planRetention({ images: [exact, older], now: NOW, pipeline: PIPELINE, keepLatest: 0 });
    expect(decisionOf(plan, 'ami-0000000a')?.action).toBe('keep');
    expect(decisionOf(plan, 'ami-0000000b')?.action).toBe('deregister');
  });

  it('honours a custom maxAgeDays', () => {
    const plan = planRetention({
      images: [image('ami-00000001', 8)],
      now: NOW,
      pipeline: PIPELINE,
      keepLatest: 0,
      maxAgeDays: 7,
    });
    expect(plan[0]?.action).toBe('deregister');
  });
});

describe('planRetention — catalog sizes (all images 40+ days old, keepLatest 3)', () => {
  it.each([
    [0, 0, 0],
    [1, 1, 0],
    [3, 3, 0],
    [4, 3, 1],
    [10, 3, 7],
  ])('%i images → %i kept, %i deregistered', (count, kept, deregistered) => {
    const plan = planRetention({ images: catalog(count, 40), now: NOW, pipeline: PIPELINE });
    expect(plan).toHaveLength(count);
    expect(plan.filter((d) => d.action === 'keep')).toHaveLength(kept);
    expect(plan.filter((d) => d.action === 'deregister')).toHaveLength(deregistered);
  });

  it('keeps exactly the newest three by creation date, whatever the input order', () => {
    const images = catalog(5, 40).reverse();
    const plan = planRetention({ images, now: NOW, pipeline: PIPELINE });
    expect(plan.filter((d) => d.reason === 'newest').map((d) => d.imageId)).toEqual([
      'ami-00000000',
      'ami-00000001',
      'ami-00000002',
    ]);
  });

  it('uses the defaults 30 days / 3 newest', () => {
    const plan = planRetention({ images: catalog(5, 29), now: NOW, pipeline: PIPELINE });
    // ages 29..33: newest three kept, 32 and 33 expired
    expect(plan.map((d) => d.action)).toEqual(['keep', 'keep', 'keep', 'deregister', 'deregister']);
  });
});

describe('planRetention — exclusions (all old, keepLatest 0)', () => {
  const run = (images: RetentionImage[], extra: Partial<Parameters<typeof planRetention>[0]> = {}) =>
    planRetention({ images, now: NOW, pipeline: PIPELINE, keepLatest: 0, ...extra });

  it('keeps the current promoted image (channel tag)', () => {
    expect(run([image('ami-00000001', 90, { 'factory:channel': 'stable' })])[0]).toMatchObject({
      action: 'keep',
      reason: 'promoted',
    });
  });
  it('keeps the previous promoted image (previous-<channel> tag)', () => {
    expect(run([image('ami-00000001', 90, { 'factory:channel': 'previous-stable' })])[0]).toMatchObject({
      action: 'keep',
      reason: 'promoted',
    });
  });
  it('keeps images listed in promotedImageIds', () => {
    expect(run([image('ami-00000001', 90)], { promotedImageIds: ['ami-00000001'] })[0]?.reason).toBe(
      'promoted',
    );
  });
  it('keeps protected images', () => {
    expect(run([image('ami-00000001', 90, { 'factory:protected': 'true' })])[0]).toMatchObject({
      action: 'keep',
      reason: 'protected',
    });
  });
  it('does not treat other protected values as protected', () => {
    expect(run([image('ami-00000001', 90, { 'factory:protected': 'false' })])[0]?.action).toBe('deregister');
  });
  it('keeps images in use', () => {
    expect(run([image('ami-00000001', 90)], { inUseImageIds: ['ami-00000001'] })[0]).toMatchObject({
      action: 'keep',
      reason: 'in-use',
    });
  });
  it('never lists foreign images (other pipeline or untagged)', () => {
    const foreign = [
      image('ami-00000001', 90, { 'factory:pipeline': 'api' }),
      { imageId: 'ami-00000002', createdAt: daysAgo(90), tags: {} },
    ];
    expect(run(foreign)).toEqual([]);
  });
  it('deregisters retired, rolled-back and candidate images once old', () => {
    const plan = run([
      image('ami-00000001', 90, { 'factory:channel': 'retired' }),
      image('ami-00000002', 90, { 'factory:channel': 'rolled-back' }),
      image('ami-00000003', 90, { 'factory:channel': 'candidate' }),
    ]);
    expect(plan.every((d) => d.action === 'deregister')).toBe(true);
  });
  it('keeps an image with an unparseable creation date', () => {
    const plan = run([
      { imageId: 'ami-00000001', createdAt: 'yesterday', tags: { 'factory:pipeline': PIPELINE } },
    ]);
    expect(plan[0]).toMatchObject({ action: 'keep', reason: 'unknown-age', ageDays: null });
  });
  it('rejects negative limits', () => {
    expect(() => run([], { maxAgeDays: -1 })).toThrow(RangeError);
    expect(() => run([], { keepLatest: -1 })).toThrow(RangeError);
  });
});

describe('planRetention — what else is kept (all 90 days old, keepLatest 0)', () => {
  const run = (images: RetentionImage[], extra: Partial<Parameters<typeof planRetention>[0]> = {}) =>
    planRetention({ images, now: NOW, pipeline: PIPELINE, keepLatest: 0, ...extra });
  const trail = (channel: string, ...ids: string[]) => ({
    channel,
    history: ids.map((imageId, index) => ({ imageId, version: index + 1 })),
  });

  it('keeps the current and previous image of every channel, read from the pointer histories', () => {
    // Prepare: stable went a → b → c; beta went d → e; tags say nothing (all retired)
    const images = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) =>
      image(`ami-0000000${id}`, 90, { 'factory:channel': 'retired' }),
    );

    // Act
    const plan = run(images, {
      channels: [
        trail('stable', 'ami-0000000a', 'ami-0000000b', 'ami-0000000c'),
        trail('beta', 'ami-0000000d', 'ami-0000000e'),
      ],
    });

    // Assess
    expect(Object.fromEntries(plan.map((d) => [d.imageId, d.reason]))).toEqual({
      'ami-0000000a': 'expired',
      'ami-0000000b': 'previous',
      'ami-0000000c': 'current',
      'ami-0000000d': 'previous',
      'ami-0000000e': 'current',
      'ami-0000000f': 'expired',
    });
  });

  it('after a rollback (a → b → a), the current is a and the previous is b', () => {
    const plan = run([image('ami-0000000a', 90), image('ami-0000000b', 90)], {
      channels: [trail('stable', 'ami-0000000a', 'ami-0000000b', 'ami-0000000a')],
    });
    expect(plan.map((d) => [d.imageId, d.reason])).toEqual([
      ['ami-0000000a', 'current'],
      ['ami-0000000b', 'previous'],
    ]);
  });

  it('reads the history by version, whatever its order', () => {
    const shuffled = {
      channel: 'stable',
      history: [
        { imageId: 'ami-0000000a', version: 1 },
        { imageId: 'ami-0000000c', version: 3 },
        { imageId: 'ami-0000000b', version: 2 },
      ],
    };
    const plan = run(
      ['a', 'b', 'c'].map((id) => image(`ami-0000000${id}`, 90)),
      { channels: [shuffled] },
    );
    expect(plan.map((d) => d.reason)).toEqual(['expired', 'previous', 'current']);
  });

  it.each([
    ['referenced by a parameter', { referencedImageIds: ['ami-00000001'] }, {}, 'referenced'],
    ['shared with another account', { sharedImageIds: ['ami-00000001'] }, {}, 'shared'],
    ['public', {}, { public: true }, 'shared'],
    ['launched 6 days ago', {}, { lastLaunchedAt: daysAgo(6) }, 'recently-launched'],
    ['launched exactly 7 days ago', {}, { lastLaunchedAt: daysAgo(7) }, 'recently-launched'],
    ['with an unparseable launch time', {}, { lastLaunchedAt: 'last week' }, 'recently-launched'],
    ['launched 8 days ago', {}, { lastLaunchedAt: daysAgo(8) }, 'expired'],
    ['private, never launched', {}, { public: false }, 'expired'],
  ])('an old image %s → %s', (_label, extra, fields, reason) => {
    const plan = run([{ ...image('ami-00000001', 90), ...fields }], extra);
    expect(plan[0]?.reason).toBe(reason);
  });

  it('honours a custom recentLaunchDays and rejects a negative one', () => {
    const launched = { ...image('ami-00000001', 90), lastLaunchedAt: daysAgo(3) };
    expect(run([launched], { recentLaunchDays: 2 })[0]?.reason).toBe('expired');
    expect(() => run([launched], { recentLaunchDays: -1 })).toThrow(RangeError);
  });

  it('considers only the given stage: another stage (or an unstaged image) is foreign', () => {
    const images = [
      image('ami-00000001', 90, { 'factory:stage': 'prod' }),
      image('ami-00000002', 90, { 'factory:stage': 'dev' }),
      image('ami-00000003', 90),
    ];
    expect(run(images, { stage: 'dev' }).map((d) => d.imageId)).toEqual(['ami-00000002']);
    expect(run(images).map((d) => d.imageId)).toEqual(['ami-00000003']);
  });

  it('counts the newest keepLatest within the stage only', () => {
    const images = [
      image('ami-00000001', 40, { 'factory:stage': 'prod' }),
      image('ami-00000002', 50, { 'factory:stage': 'dev' }),
    ];
    expect(planRetention({ images, now: NOW, pipeline: PIPELINE, stage: 'dev', keepLatest: 1 })).toEqual([
      { imageId: 'ami-00000002', action: 'keep', reason: 'newest', ageDays: 50 },
    ]);
  });
});

describe('planRetention — properties over generated catalogs', () => {
  const arbImage = fc.record({
    imageId: fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => `ami-${n.toString(16).padStart(8, '0')}`),
    ageMs: fc.integer({ min: 0, max: 400 * DAY }),
    pipeline: fc.constantFrom('web', 'web', 'web', 'api', undefined),
    channel: fc.constantFrom(
      undefined,
      'candidate',
      'stable',
      'previous-stable',
      'beta',
      'retired',
      'rolled-back',
    ),
    protected: fc.constantFrom(undefined, 'true', 'false'),
  });
  const arbCatalog = fc.uniqueArray(arbImage, { selector: (i) => i.imageId, maxLength: 40 }).map((items) =>
    items.map((item) => ({
      imageId: item.imageId,
      createdAt: new Date(NOW.getTime() - item.ageMs).toISOString(),
      tags: Object.fromEntries(
        [
          ['factory:pipeline', item.pipeline],
          ['factory:channel', item.channel],
          ['factory:protected', item.protected],
        ].filter((entry): entry is [string, string] => entry[1] !== undefined),
      ),
    })),
  );

  it('never deregisters protected, promoted, in-use or foreign images; keeps ≥ 3 of ≥ 3', () => {
    fc.assert(
      fc.property(arbCatalog, fc.double({ min: 0, max: 1, noNaN: true }), (images, share) => {
        const ids = images.map((i) => i.imageId);
        const inUse = ids.filter((_, index) => index % 5 === 0);
        const promoted = ids.filter((_, index) => index < Math.floor(ids.length * share) && index % 7 === 1);
        const plan = planRetention({
          images,
          now: NOW,
          pipeline: PIPELINE,
          inUseImageIds: inUse,
          promotedImageIds: promoted,
        });
        const ours = images.filter((i) => i.tags['factory:pipeline'] === PIPELINE);
        expect(plan).toHaveLength(ours.length);
        const byId = new Map(images.map((i) => [i.imageId, i]));
        for (const decision of plan.filter((d) => d.action === 'deregister')) {
          const img = byId.get(decision.imageId);
          expect(img?.tags['factory:pipeline']).toBe(PIPELINE);
          expect(img?.tags['factory:protected']).not.toBe('true');
          expect(['stable', 'previous-stable', 'beta']).not.toContain(img?.tags['factory:channel']);
          expect(inUse).not.toContain(decision.imageId);
          expect(promoted).not.toContain(decision.imageId);
          expect(NOW.getTime() - Date.parse(img?.createdAt ?? '')).toBeGreaterThan(30 * DAY);
        }
        const kept = plan.filter((d) => d.action === 'keep').length;
        expect(kept).toBeGreaterThanOrEqual(Math.min(3, ours.length));
      }),
      { numRuns: 500 },
    );
  });

  it('is deterministic and independent of input order', () => {
    fc.assert(
      fc.property(arbCatalog, (images) => {
        const a = planRetention({ images, now: NOW, pipeline: PIPELINE });
        const b = planRetention({ images: [...images].reverse(), now: NOW, pipeline: PIPELINE });
        expect(b).toEqual(a);
      }),
      { numRuns: 300 },
    );
  });
});
