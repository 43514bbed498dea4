import { describe, expect, it } from 'vitest';
import { type ChannelImage, planChannelTags, planRollback } from '#commons/core/promotion.js';

const img = (id: string, day: number, channel?: string): ChannelImage => ({
  imageId: id,
  createdAt: `2026-01-${String(day).padStart(2, '0')}T00:00:00Z`,
  tags: { 'factory:pipeline': 'web', ...(channel ? { 'factory:channel': channel } : {}) },
});

const pointer = (...imageIds: string[]) => imageIds.map((imageId) => ({ imageId }));

/** Apply a plan to the images (what PromoteImage does with ImageStore.tagImage). */
const apply = (images: ChannelImage[], plan: ReturnType<typeof planChannelTags>): ChannelImage[] =>
  images.map((image) => {
    const change = plan.changes.filter((c) => c.imageId === image.imageId).at(-1);
    return change ? { ...image, tags: { ...image.tags, 'factory:channel': change.to } } : image;
  });

describe('planChannelTags', () => {
  it('first promotion: the image the pointer names is tagged with the channel', () => {
    const plan = planChannelTags(pointer('ami-c'), [img('ami-c', 3, 'candidate')], 'stable');

    expect(plan).toEqual({
      channel: 'stable',
      imageId: 'ami-c',
      previousImageId: null,
      changes: [{ imageId: 'ami-c', from: 'candidate', to: 'stable' }],
    });
  });

  it('shifts the history from the pointer: current → previous, previous → retired', () => {
    const images = [
      img('ami-c', 3, 'candidate'),
      img('ami-b', 2, 'stable'),
      img('ami-a', 1, 'previous-stable'),
    ];

    const plan = planChannelTags(pointer('ami-c', 'ami-b', 'ami-a'), images, 'stable');

    expect(plan.previousImageId).toBe('ami-b');
    expect(plan.changes).toEqual([
      { imageId: 'ami-c', from: 'candidate', to: 'stable' },
      { imageId: 'ami-b', from: 'stable', to: 'previous-stable' },
      { imageId: 'ami-a', from: 'previous-stable', to: 'retired' },
    ]);
  });

  it('follows the pointer, not the tags: a stale `stable` tag on an image the pointer left is retired', () => {
    // The tags moved to ami-d, then PutParameter failed: the pointer still names ami-c.
    const images = [
      img('ami-d', 4, 'stable'),
      img('ami-c', 3, 'previous-stable'),
      img('ami-b', 2, 'retired'),
    ];

    const plan = planChannelTags(pointer('ami-c', 'ami-b'), images, 'stable');

    expect(plan).toMatchObject({ imageId: 'ami-c', previousImageId: 'ami-b' });
    expect(plan.changes).toEqual([
      { imageId: 'ami-c', from: 'previous-stable', to: 'stable' },
      { imageId: 'ami-b', from: 'retired', to: 'previous-stable' },
      { imageId: 'ami-d', from: 'stable', to: 'retired' },
    ]);
  });

  it('skips, for the previous image, positions that name the current image, a deregistered image or a rolled-back one', () => {
    const images = [img('ami-a', 1, 'stable'), img('ami-c', 3, 'rolled-back'), img('ami-0', 0, 'retired')];

    // History: 0, b (deregistered since), c, a (rollback), a again (a retried write).
    const plan = planChannelTags(pointer('ami-a', 'ami-a', 'ami-c', 'ami-b', 'ami-0'), images, 'stable');

    expect(plan).toMatchObject({ imageId: 'ami-a', previousImageId: 'ami-0' });
    expect(plan.changes).toEqual([{ imageId: 'ami-0', from: 'retired', to: 'previous-stable' }]);
  });

  it('a channel without a pointer has no current image: every image tagged with it is retired', () => {
    const plan = planChannelTags(
      [],
      [img('ami-c', 3, 'stable'), img('ami-b', 2, 'previous-stable')],
      'stable',
    );

    expect(plan).toMatchObject({ imageId: null, previousImageId: null });
    expect(plan.changes.map((c) => c.to)).toEqual(['retired', 'retired']);
  });

  it('leaves other channels alone', () => {
    const images = [img('ami-c', 3), img('ami-x', 2, 'beta'), img('ami-y', 1, 'previous-beta')];

    const plan = planChannelTags(pointer('ami-c'), images, 'stable');

    expect(plan.changes).toEqual([{ imageId: 'ami-c', from: null, to: 'stable' }]);
  });

  it('is idempotent: planning again after applying changes nothing', () => {
    const images = [
      img('ami-d', 4, 'stable'),
      img('ami-c', 3, 'candidate'),
      img('ami-b', 2, 'previous-stable'),
      img('ami-a', 1, 'stable'),
    ];
    const history = pointer('ami-c', 'ami-a', 'ami-b');

    const applied = apply(images, planChannelTags(history, images, 'stable'));
    const again = planChannelTags(history, applied, 'stable');

    expect(again.changes).toEqual([]);
    expect(
      applied.filter((image) => image.tags['factory:channel'] === 'stable').map((i) => i.imageId),
    ).toEqual(['ami-c']);
  });

  it.each(['candidate', 'retired', 'previous-stable'])('refuses the reserved channel name %s', (channel) => {
    expect(() => planChannelTags([], [], channel)).toThrow(RangeError);
  });
});

describe('planRollback', () => {
  it('points back to the previous image and withdraws the current one', () => {
    const previous = img('ami-b', 2, 'previous-stable');
    expect(planRollback(previous, [img('ami-c', 3, 'stable'), previous], 'stable')).toEqual({
      channel: 'stable',
      imageId: 'ami-b',
      withdrawnImageId: 'ami-c',
      changes: [
        { imageId: 'ami-b', from: 'previous-stable', to: 'stable' },
        { imageId: 'ami-c', from: 'stable', to: 'rolled-back' },
      ],
    });
  });

  it('does nothing when the target already is current', () => {
    const current = img('ami-c', 3, 'stable');
    expect(planRollback(current, [current], 'stable').changes).toEqual([]);
  });
});
