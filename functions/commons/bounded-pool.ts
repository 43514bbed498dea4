/**
 * A bounded, throttle-aware worker pool for bulk calls (thousands of `DeregisterImage`, say).
 *
 * - At most `concurrency` items are in flight at once.
 * - Each call already goes through the SDK client's own retry strategy (standard mode: exponential
 *   backoff with jitter, throttling errors such as EC2's `RequestLimitExceeded` included). When an
 *   item still fails with a throttling error (`isThrottled`), the pool treats it as a signal that the
 *   account's rate limit is reached: the item is queued again (up to `maxThrottleRetries` times), the
 *   number of active workers is halved (never below 1) and the worker waits a full-jitter exponential
 *   backoff. After `concurrency` successes in a row one worker is added back (additive increase,
 *   multiplicative decrease).
 * - `canStart()` is asked before each item; once it says no (e.g. the Lambda's time budget is
 *   spent), the items not started are reported `skipped` and the run ends.
 *
 * Backend-neutral: no SDK import. The defaults for the delays are the SDK's own for throttling
 * (`THROTTLING_RETRY_DELAY_BASE` 500 ms, `MAXIMUM_RETRY_DELAY` 20 s in `@smithy/core/retry`).
 * EC2 throttling: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
 */
import { setTimeout as delay } from 'node:timers/promises';

export type PoolResult<T, R> =
  | { item: T; status: 'done'; value: R }
  | { item: T; status: 'failed'; error: unknown }
  | { item: T; status: 'skipped' };

export interface PoolOptions {
  /** Most items in flight at once (integer ≥ 1). */
  concurrency: number;
  /** True for an error that means "slow down". Default: none is. */
  isThrottled?: (error: unknown) => boolean;
  /** Times one item is queued again after a throttling error before it is reported failed (default 8). */
  maxThrottleRetries?: number;
  /** Backoff base and cap in ms (defaults 500 / 20 000). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Asked before each item; false ends the run (remaining items `skipped`). */
  canStart?: () => boolean;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** What the pool saw, for metrics and the report. */
export interface PoolStats {
  /** Throttling errors that reached the pool (after the SDK's retries). */
  throttled: number;
  /** Lowest number of active workers reached. */
  lowestConcurrency: number;
}

interface Queued<T> {
  item: T;
  index: number;
  throttles: number;
}

export class BoundedPool {
  readonly stats: PoolStats;
  #limit: number;
  #streak = 0;
  readonly #options: Required<Omit<PoolOptions, 'canStart'>> & Pick<PoolOptions, 'canStart'>;

  /** @throws RangeError when `concurrency` is not an integer ≥ 1. */
  constructor(options: PoolOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${options.concurrency}`);
    }
    this.#options = {
      isThrottled: () => false,
      maxThrottleRetries: 8,
      baseDelayMs: 500,
      maxDelayMs: 20_000,
      sleep: (ms) => delay(ms),
      random: Math.random,
      ...options,
    };
    this.#limit = options.concurrency;
    this.stats = { throttled: 0, lowestConcurrency: options.concurrency };
  }

  /** Workers currently allowed to take items. */
  get activeWorkers(): number {
    return this.#limit;
  }

  /**
   * Run `work` on every item with bounded concurrency.
   * @returns one result per item, in the order of `items`. `work` errors never reject the run.
   */
  async run<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<Array<PoolResult<T, R>>> {
    const options = this.#options;
    const queue: Array<Queued<T>> = items.map((item, index) => ({ item, index, throttles: 0 }));
    const results: Array<PoolResult<T, R> | undefined> = new Array(items.length);
    let stopped = false;

    const backoff = (attempt: number): number =>
      Math.floor(options.random() * Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt));

    const attempt = async (next: Queued<T>): Promise<void> => {
      try {
        results[next.index] = { item: next.item, status: 'done', value: await work(next.item) };
        this.#streak += 1;
        if (this.#streak >= options.concurrency && this.#limit < options.concurrency) {
          this.#limit += 1;
          this.#streak = 0;
        }
      } catch (error) {
        this.#streak = 0;
        if (!options.isThrottled(error) || next.throttles >= options.maxThrottleRetries) {
          results[next.index] = { item: next.item, status: 'failed', error };
          return;
        }
        this.stats.throttled += 1;
        this.#limit = Math.max(1, Math.floor(this.#limit / 2));
        this.stats.lowestConcurrency = Math.min(this.stats.lowestConcurrency, this.#limit);
        queue.push({ ...next, throttles: next.throttles + 1 });
        await options.sleep(backoff(next.throttles));
      }
    };

    let inFlight = 0;
    const worker = async (): Promise<void> => {
      while (!stopped && queue.length > 0) {
        if (inFlight >= this.#limit) {
          // Fewer workers allowed after a throttle: wait, then look again. Never all of them wait:
          // with nothing in flight, 0 < limit (≥ 1).
          await options.sleep(options.baseDelayMs);
          continue;
        }
        if (!(options.canStart?.() ?? true)) {
          stopped = true;
          return;
        }
        const next = queue.shift();
        if (next === undefined) return;
        inFlight += 1;
        try {
          await attempt(next);
        } finally {
          inFlight -= 1;
        }
      }
    };

    await Promise.all(Array.from({ length: Math.min(options.concurrency, items.length) }, () => worker()));
    return items.map((item, index) => results[index] ?? { item, status: 'skipped' as const });
  }
}
