/**
 * `local/compat.ts`: aws-local-stepfunctions calls `Promise.withResolvers`, which Node 20 lacks;
 * after the module is loaded it exists and behaves as the standard one (TC39
 * proposal-promise-with-resolvers: `{ promise, resolve, reject }` settling `promise`).
 */
import { describe, expect, it } from 'vitest';
import '#local/compat.js';

const withResolvers = <T>() =>
  (
    Promise as unknown as {
      withResolvers: () => {
        promise: Promise<T>;
        resolve: (value: T) => void;
        reject: (reason?: unknown) => void;
      };
    }
  ).withResolvers();

describe('Promise.withResolvers after local/compat', () => {
  it('resolves its promise with the value given to resolve', async () => {
    const { promise, resolve } = withResolvers<string>();
    resolve('done');
    await expect(promise).resolves.toBe('done');
  });

  it('rejects its promise with the reason given to reject', async () => {
    const { promise, reject } = withResolvers<string>();
    reject(new Error('stopped'));
    await expect(promise).rejects.toThrow('stopped');
  });
});
