import { describe, expect, it } from 'vitest';
import { BoundedPool } from '#commons/bounded-pool.js';

const throttle = () => Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded' });
const isThrottled = (error: unknown) => (error as Error).name === 'RequestLimitExceeded';
/** No real waiting, but a turn of the event loop, as a timer would give (work may use macrotasks). */
const noWait = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Work that records how many calls are in flight, and yields so that calls overlap. */
const tracked = () => {
  const state = { inFlight: 0, peak: 0, calls: [] as number[] };
  const run = async (item: number, fail?: (item: number, attempt: number) => Error | undefined) => {
    state.calls.push(item);
    state.inFlight += 1;
    state.peak = Math.max(state.peak, state.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    state.inFlight -= 1;
    const error = fail?.(item, state.calls.filter((called) => called === item).length);
    if (error) throw error;
    return item * 2;
  };
  return { state, run };
};

describe('BoundedPool', () => {
  it('never has more than `concurrency` items in flight and returns results in input order', async () => {
    const { state, run } = tracked();
    const pool = new BoundedPool({ concurrency: 4, sleep: noWait });

    const results = await pool.run(
      Array.from({ length: 50 }, (_, i) => i),
      (item) => run(item),
    );

    expect(state.peak).toBe(4);
    expect(results.map((r) => (r.status === 'done' ? r.value : null))).toEqual(
      Array.from({ length: 50 }, (_, i) => i * 2),
    );
  });

  it('on throttling: re-queues the item, halves the workers, backs off, and still finishes', async () => {
    // Prepare: items 3 and 7 are throttled on their first two attempts
    const { state, run } = tracked();
    const sleeps: number[] = [];
    const pool = new BoundedPool({
      concurrency: 8,
      isThrottled,
      sleep: async (ms) => {
        sleeps.push(ms);
        await noWait();
      },
      random: () => 1,
    });

    // Act
    const results = await pool.run(
      Array.from({ length: 40 }, (_, i) => i),
      (item) => run(item, (i, attempt) => ((i === 3 || i === 7) && attempt <= 2 ? throttle() : undefined)),
    );

    // Assess
    expect(results.every((r) => r.status === 'done')).toBe(true);
    expect(pool.stats.throttled).toBe(4);
    expect(pool.stats.lowestConcurrency).toBeLessThanOrEqual(2);
    expect(sleeps).toContain(500);
    expect(sleeps).toContain(1000);
    expect(state.calls.filter((i) => i === 3)).toHaveLength(3);
  });

  it('reports an item failed once it was throttled maxThrottleRetries times; other errors fail at once', async () => {
    const pool = new BoundedPool({ concurrency: 2, isThrottled, maxThrottleRetries: 2, sleep: noWait });
    let attempts = 0;

    const results = await pool.run(['always-throttled', 'denied', 'fine'], async (item) => {
      if (item === 'always-throttled') {
        attempts += 1;
        throw throttle();
      }
      if (item === 'denied') throw Object.assign(new Error('no'), { name: 'UnauthorizedOperation' });
      return item;
    });

    expect(results.map((r) => r.status)).toEqual(['failed', 'failed', 'done']);
    expect(attempts).toBe(3);
  });

  it('finishes when the last items are throttled after the other workers have ended', async () => {
    // Prepare: the slowest items (the last ones) are throttled once each, when every other
    // worker has already found the queue empty; a pool that parked workers by slot would spin.
    const { run } = tracked();
    const pool = new BoundedPool({ concurrency: 4, isThrottled, sleep: noWait });
    const slow = async (item: number) => {
      for (let i = 0; i < item * 3; i++) await new Promise((resolve) => setImmediate(resolve));
    };

    // Act
    const results = await pool.run([0, 1, 2, 3], async (item) => {
      await slow(item);
      return run(item, (i, attempt) => (i >= 2 && attempt === 1 ? throttle() : undefined));
    });

    // Assess
    expect(results.map((r) => r.status)).toEqual(['done', 'done', 'done', 'done']);
    expect(pool.stats.throttled).toBe(2);
  });

  it('stops starting items when canStart says no and reports the rest skipped', async () => {
    let budget = 5;
    const pool = new BoundedPool({ concurrency: 2, canStart: () => budget-- > 0, sleep: noWait });

    const results = await pool.run(
      Array.from({ length: 20 }, (_, i) => i),
      async (item) => item,
    );

    expect(results.filter((r) => r.status === 'done')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'skipped')).toHaveLength(15);
  });

  it('rejects a concurrency that is not a positive integer', () => {
    expect(() => new BoundedPool({ concurrency: 0 })).toThrow(RangeError);
    expect(() => new BoundedPool({ concurrency: 1.5 })).toThrow(RangeError);
  });
});
