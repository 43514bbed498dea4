import { describe, expect, it } from 'vitest';
import {
  compareBuildOrder,
  decidePromotion,
  formatBuildOrder,
  parseBuildOrder,
} from '#commons/core/promotion-order.js';

const order = (day: number, sequence: number) => ({
  sourceCreatedAt: `2026-01-${String(day).padStart(2, '0')}T00:00:00.000Z`,
  sequence,
});

describe('build order', () => {
  it('orders by source AMI creation time first, then by build sequence', () => {
    expect(compareBuildOrder(order(2, 1), order(1, 9))).toBeGreaterThan(0);
    expect(compareBuildOrder(order(1, 3), order(1, 2))).toBeGreaterThan(0);
    expect(compareBuildOrder(order(1, 2), order(1, 2))).toBe(0);
    expect(compareBuildOrder(order(1, 9), order(2, 1))).toBeLessThan(0);
  });

  it('round-trips through the factory:build-order tag value, which sorts like the order', () => {
    const tag = formatBuildOrder(order(5, 42));
    expect(tag).toBe('2026-01-05T00:00:00.000Z#000000000042');
    expect(parseBuildOrder(tag)).toEqual(order(5, 42));
    expect(formatBuildOrder(order(5, 43)) > tag).toBe(true);
  });

  it.each([undefined, '', 'garbage', '2026-01-05T00:00:00.000Z#42'])('reads %j as no order', (value) => {
    expect(parseBuildOrder(value)).toBeUndefined();
  });

  it.each([
    { sourceCreatedAt: 'yesterday', sequence: 1 },
    { sourceCreatedAt: '2026-01-01T00:00:00Z', sequence: 0 },
    { sourceCreatedAt: '2026-01-01T00:00:00Z', sequence: 1.5 },
  ])('refuses to format %j', (bad) => {
    expect(() => formatBuildOrder(bad)).toThrow(RangeError);
  });
});

describe('decidePromotion', () => {
  const base = { candidateImageId: 'ami-new', candidate: order(2, 5) };

  it.each([
    ['no current image', {}, 'promote'],
    ['a retry (already current)', { currentImageId: 'ami-new', current: order(9, 9) }, 'promote'],
    ['current records no order', { currentImageId: 'ami-old' }, 'promote'],
    ['current is older', { currentImageId: 'ami-old', current: order(2, 4) }, 'promote'],
    ['current is the same order', { currentImageId: 'ami-old', current: order(2, 5) }, 'supersede'],
    ['current has a newer sequence', { currentImageId: 'ami-old', current: order(2, 6) }, 'supersede'],
    ['current has a newer source AMI', { currentImageId: 'ami-old', current: order(3, 1) }, 'supersede'],
  ] as const)('%s → %s', (_, current, action) => {
    expect(decidePromotion({ ...base, ...current }).action).toBe(action);
  });
});
