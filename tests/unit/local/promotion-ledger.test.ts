import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PromotionLeaseHeld } from '#commons/errors.js';
import { FilePromotionLedger } from '#local/promotion-ledger.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ledger-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FilePromotionLedger', () => {
  it('hands out each build sequence number once, even to concurrent callers', async () => {
    const ledger = new FilePromotionLedger(root);
    const numbers = await Promise.all(Array.from({ length: 20 }, () => ledger.nextSequence('web')));
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await ledger.nextSequence('api')).toBe(1);
  });

  it('grants one lease among concurrent executions; the others are refused with the holder', async () => {
    const ledger = new FilePromotionLedger(root, 'dev');
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => ledger.acquire('web', 'stable', `exec-${i}`, 60)),
    );
    const granted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(granted).toHaveLength(1);
    expect(refused).toHaveLength(7);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(PromotionLeaseHeld);
    expect((granted[0] as PromiseFulfilledResult<{ key: string }>).value.key).toBe('dev#web#stable');
  });

  it('lets the holder extend and release it; a release by another holder changes nothing', async () => {
    const ledger = new FilePromotionLedger(root);
    await ledger.acquire('web', 'stable', 'a', 60);
    await expect(ledger.acquire('web', 'stable', 'a', 60)).resolves.toMatchObject({ holder: 'a' });
    await expect(ledger.release('web', 'stable', 'b')).resolves.toBe(false);
    await expect(ledger.acquire('web', 'stable', 'b', 60)).rejects.toBeInstanceOf(PromotionLeaseHeld);
    await expect(ledger.release('web', 'stable', 'a')).resolves.toBe(true);
    await expect(ledger.acquire('web', 'stable', 'b', 60)).resolves.toMatchObject({ holder: 'b' });
  });

  it('treats a lease past its expiry as free although its record is still there (aborted execution)', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const ledger = new FilePromotionLedger(root, 'local', () => now);
    await ledger.acquire('web', 'stable', 'aborted', 60);
    now = new Date('2026-01-01T00:00:59Z');
    await expect(ledger.acquire('web', 'stable', 'next', 60)).rejects.toBeInstanceOf(PromotionLeaseHeld);
    now = new Date('2026-01-01T00:01:01Z');
    await expect(ledger.acquire('web', 'stable', 'next', 60)).resolves.toMatchObject({ holder: 'next' });
    await expect(ledger.release('web', 'stable', 'aborted')).resolves.toBe(false);
  });

  it('keeps channels and pipelines apart', async () => {
    const ledger = new FilePromotionLedger(root);
    await ledger.acquire('web', 'stable', 'a', 60);
    await expect(ledger.acquire('web', 'beta', 'b', 60)).resolves.toMatchObject({ holder: 'b' });
    await expect(ledger.acquire('api', 'stable', 'c', 60)).resolves.toMatchObject({ holder: 'c' });
  });
});
