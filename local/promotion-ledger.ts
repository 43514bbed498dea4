import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promotionLeaseKey } from '#commons/core/promotion-lease.js';
import { PromotionLeaseHeld } from '#commons/errors.js';
import type { PromotionLease, PromotionLedger } from '#commons/ports.js';

/** A mutex directory older than this (ms) belongs to a process that died inside it. */
const STALE_MUTEX_MS = 30_000;
const MUTEX_WAIT_MS = 20;

/**
 * `PromotionLedger` of the local backend: the counterpart of the DynamoDB ledger, as files in the
 * local catalog (`<catalog>/ledger/`):
 *
 * ```
 * leases/<pipeline>/<channel>.json   PromotionLease (key, holder, expiresAt)
 * sequences/<pipeline>.json          { "sequence": <last number handed out> }
 * .mutex/                            held while a lease or counter is read and rewritten
 * ```
 *
 * Every read-modify-write runs under one mutex, a directory made with `mkdir` (atomic: it fails
 * when the directory exists), so concurrent processes on one machine see the same conditional
 * semantics as DynamoDB's condition expressions. A mutex left by a killed process is broken after
 * 30 s. A lease whose `expiresAt` has passed counts as free whether or not its file is still there,
 * as on AWS (TTL deletion is lazy, so the expiry itself is compared).
 */
export class FilePromotionLedger implements PromotionLedger {
  readonly #dir: string;

  constructor(
    catalogRoot: string,
    private readonly stage = 'local',
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#dir = path.join(path.resolve(catalogRoot), 'ledger');
  }

  async nextSequence(pipeline: string): Promise<number> {
    const file = path.join(this.#dir, 'sequences', `${pipeline}.json`);
    return this.#locked(async () => {
      const next = ((await readJson<{ sequence: number }>(file))?.sequence ?? 0) + 1;
      await writeJson(file, { sequence: next });
      return next;
    });
  }

  async acquire(
    pipeline: string,
    channel: string,
    holder: string,
    ttlSeconds: number,
  ): Promise<PromotionLease> {
    const file = this.#leaseFile(pipeline, channel);
    return this.#locked(async () => {
      const now = this.now();
      const existing = await readJson<PromotionLease>(file);
      if (existing && existing.holder !== holder && Date.parse(existing.expiresAt) > now.getTime()) {
        throw new PromotionLeaseHeld(existing.key, existing.holder, existing.expiresAt);
      }
      const lease: PromotionLease = {
        key: promotionLeaseKey(this.stage, pipeline, channel),
        holder,
        expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      };
      await writeJson(file, lease);
      return lease;
    });
  }

  async release(pipeline: string, channel: string, holder: string): Promise<boolean> {
    const file = this.#leaseFile(pipeline, channel);
    return this.#locked(async () => {
      const existing = await readJson<PromotionLease>(file);
      if (existing?.holder !== holder) return false;
      await rm(file, { force: true });
      return true;
    });
  }

  #leaseFile(pipeline: string, channel: string): string {
    return path.join(this.#dir, 'leases', pipeline, `${channel}.json`);
  }

  async #locked<T>(work: () => Promise<T>): Promise<T> {
    const mutex = path.join(this.#dir, '.mutex');
    await mkdir(this.#dir, { recursive: true });
    for (;;) {
      try {
        await mkdir(mutex);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const age = await stat(mutex).then(
          (info) => Date.now() - info.mtimeMs,
          () => 0,
        );
        if (age > STALE_MUTEX_MS) await rm(mutex, { recursive: true, force: true });
        else await delay(MUTEX_WAIT_MS);
      }
    }
    try {
      return await work();
    } finally {
      await rm(mutex, { recursive: true, force: true });
    }
  }
}

const readJson = async <T>(file: string): Promise<T | undefined> => {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/** Write through a temporary file and a rename, so a crash never leaves half a record. */
const writeJson = async (file: string, value: unknown): Promise<void> => {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, file);
};
