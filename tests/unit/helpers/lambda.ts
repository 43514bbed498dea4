import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';

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
