import { existsSync, readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { vi } from 'vitest';

/** A Lambda context as the runtime passes it. */
export const context = (functionName = 'image-factory-dev-test'): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
  memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: '2026/06/30/[$LATEST]abcdef',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

const cache = new Map<string, unknown>();

/** A fixture from `tests/events/<source>/<variant>.json`, cloned so that tests may edit it. */
export const loadEvent = <T = Record<string, unknown>>(source: string, variant: string): T => {
  const key = `${source}/${variant}`;
  if (!cache.has(key)) {
    cache.set(key, JSON.parse(readFileSync(new URL(`../../events/${key}.json`, import.meta.url), 'utf8')));
  }
  return structuredClone(cache.get(key)) as T;
};

/** A handler as the tests call it: any event, a Lambda context. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * The `handler` of `functions/<name>.ts`, freshly imported after `env` is merged into `process.env`:
 * a cold start, so module-scope configuration, SDK clients and parameter caches are created again.
 * Other modules the test file imported keep their instances.
 * @param name handler file name without `.ts`, e.g. `notify-success`
 * @param env variables to set first (they stay set for the rest of the test file)
 * @throws Error when `functions/<name>.ts` does not exist or exports no `handler` function
 */
export async function loadHandler(name: string, env: Record<string, string> = {}): Promise<LambdaHandler> {
  if (
    !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name) ||
    !existsSync(new URL(`../../../functions/${name}.ts`, import.meta.url))
  ) {
    throw new Error(`no handler functions/${name}.ts`);
  }
  Object.assign(process.env, env);
  vi.resetModules();
  const module = (await import(`../../../functions/${name}.ts`)) as { handler?: unknown };
  if (typeof module.handler !== 'function') throw new Error(`functions/${name}.ts exports no handler`);
  return module.handler as LambdaHandler;
}
