import { describe, expect, it } from 'vitest';
import { type ChannelImage, planPromotion, planRollback } from '#commons/core/promotion.js';

const img = (id: string, day: number, channel?: string): ChannelImage => ({
  imageId: id,
  createdAt: `2026-01-${String(day).padStart(2, '0')}T00:00:00Z`,
  tags: { 'factory:pipeline': 'web', ...(channel ? { 'factory:channel': channel } : {}) },
});

describe('planPromotion', () => {
  it('first promotion: only the candidate is tagged', () => {
    const candidate = img('ami-c', 3, 'candidate');
    expect(planPromotion(candidate, [candidate], 'stable')).toEqual({
      channel: 'stable',
      imageId: 'ami-c',
      previousImageId: null,
      changes: [{ imageId: 'ami-c', from: 'candidate', to: 'stable' }],
    });
  });

  it('shifts the history: current → previous, previous → retired', () => {
    const candidate = img('ami-c', 3, 'candidate');
    const plan = planPromotion(
      candidate,
      [candidate, img('ami-b', 2, 'stable'), img('ami-a', 1, 'previous-stable')],
      'stable',
    );
    expect(plan.previousImageId).toBe('ami-b');
    expect(plan.changes).toEqual([
      { imageId: 'ami-c', from: 'candidate', to: 'stable' },
      { imageId: 'ami-b', from: 'stable', to: 'previous-stable' },
      { imageId: 'ami-a', from: 'previous-stable', to: 'retired' },
    ]);
  });

  it('leaves other channels alone', () => {
    const candidate = img('ami-c', 3);
    const plan = planPromotion(
      candidate,
      [img('ami-x', 2, 'beta'), img('ami-y', 1, 'previous-beta')],
      'stable',
    );
    expect(plan.changes).toEqual([{ imageId: 'ami-c', from: null, to: 'stable' }]);
  });

  it('is idempotent: re-planning after applying changes nothing', () => {
    const plan = planPromotion(
      img('ami-c', 3, 'stable'),
      [img('ami-c', 3, 'stable'), img('ami-b', 2, 'previous-stable'), img('ami-a', 1, 'retired')],
      'stable',
    );
    expect(plan).toEqual({ channel: 'stable', imageId: 'ami-c', previousImageId: 'ami-b', changes: [] });
  });

  it.each(['candidate', 'retired', 'previous-stable'])('refuses the reserved channel name %s', (channel) => {
    expect(() => planPromotion(img('ami-c', 1), [], channel)).toThrow(RangeError);
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
