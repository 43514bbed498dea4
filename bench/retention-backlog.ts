/**
 * Benchmark of retention at scale: `npm run bench:retention -- [--images 5000] [--concurrency 8]`.
 *
 * Seeds moto server (MOTO_AMIS_PATH, the only way to have images of chosen ages) with a backlog of
 * `--images` expired images of pipeline `bench` (40 to 400 days old), plus the 3 newest, young
 * images and a current one named by the channel pointer, then invokes the real `apply-retention`
 * handler through the MotoGapProxy (which answers DescribeImageReferences and completes
 * DeregisterImage's DeleteAssociatedSnapshots, as in the integration tests), run after run, as the
 * next builds would, until the backlog is gone (at most 10 runs; `--dry-run-first` adds a plan-only
 * run).
 *
 * The emulator's own listing cost is credited. moto 5.2.5 renders every image of a
 * `DescribeImages` reply with a scan of every tag in the account (`ec2/models/tags.py`
 * `describe_tags`, once per image), so listing N images costs O(N²) there, minutes for 5000 on this
 * machine, where EC2 answers five pages of 1000 in seconds. The Lambda context therefore starts the
 * function's clock when the function's own `DescribeImages` listing has been answered (the proxy
 * records each operation when it answers it): from then on it has the configured timeout, and its
 * time budget (stop starting work while a reserve is left, report the rest `deferred`) runs against
 * the real timeout. Before that it reports the timeout plus an hour, so middy's early-timeout guard
 * (set at the start) does not fire during the emulator's listing.
 *
 * Prints, per run: wall time, the emulator listing time, the difference against the timeout, the
 * outcome counts and the calls made; then the totals and the load average (a shared, noisy
 * machine: figures, not assertions).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { parse } from 'yaml';
import { TAG } from '../functions/commons/core/tags.js';
import { startMotoGapProxy } from '../tests/integration/doubles/moto-gap-proxy.js';
import { amiId } from '../tests/integration/fixtures/image-catalog.js';
import {
  DUMMY_AWS_ENV,
  MOTO_ACCOUNT_ID,
  type SeedImage,
  startMotoServer,
  TEST_REGION,
  useMotoEnvironment,
} from '../tests/integration/moto.js';

const DAY_MS = 86_400_000;
const PREFIX = '/bench/channels';
/** The stack's stage: retention lists only images tagged with it (`factory:stage`). */
const STAGE = 'bench';
const root = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** `functions.apply-retention.timeout` of serverless.yml (following a `${file(…)}` include), in s. */
const configuredTimeoutSeconds = (): number => {
  const read = (path: string) => parse(readFileSync(root(path), 'utf8')) as Record<string, unknown>;
  const config = read('serverless.yml');
  let functions = config.functions as Record<string, { timeout?: number }> | string;
  const include = typeof functions === 'string' ? /^\$\{file\(\.?\/?([^)]+)\)\}$/.exec(functions) : null;
  if (include?.[1]) functions = read(include[1]) as Record<string, { timeout?: number }>;
  const timeout = typeof functions === 'object' ? functions['apply-retention']?.timeout : undefined;
  if (timeout === undefined) throw new Error('no functions.apply-retention.timeout in serverless.yml');
  return timeout;
};

const seed = (count: number, now: number): { images: SeedImage[]; current: string } => {
  const image = (index: number, ageDays: number, channel: string): SeedImage => ({
    imageId: amiId(0xbe4c0, index),
    name: `bench-${index}`,
    ownerId: MOTO_ACCOUNT_ID,
    createdAt: new Date(now - ageDays * DAY_MS).toISOString().replace(/\.\d{3}Z$/, '.000Z'),
    tags: {
      [TAG.stage]: STAGE,
      [TAG.pipeline]: 'bench',
      [TAG.buildId]: `bench-${index}`,
      [TAG.channel]: channel,
    },
  });
  const young = [1, 2, 3].map((index) => image(index, index, 'candidate'));
  const current = image(4, 500, 'retired');
  const backlog = Array.from({ length: count }, (_, i) => image(10 + i, 40 + (i % 360), 'retired'));
  return { images: [...young, current, ...backlog], current: current.imageId };
};

/**
 * A Lambda context whose clock starts when `listed()` first returns a time (ms since epoch); before
 * that it reports the timeout plus an hour (middy's early-timeout guard and the start of the
 * function read it during the emulator's listing).
 */
const lambdaContext = (timeoutMs: number, listed: () => number | undefined): Context => {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'apply-retention',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${TEST_REGION}:${MOTO_ACCOUNT_ID}:function:apply-retention`,
    memoryLimitInMB: '256',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/aws/lambda/apply-retention',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => {
      const start = listed();
      return start === undefined ? timeoutMs + 3_600_000 : timeoutMs - (Date.now() - start);
    },
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '8' },
      'dry-run-first': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.images);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--images must be a whole number ≥ 1`);
  const timeoutSeconds = configuredTimeoutSeconds();
  const now = Math.floor(Date.now() / 1000) * 1000;
  const { images, current } = seed(count, now);

  process.stdout.write(`seeding moto with ${images.length} images (${count} expired)…\n`);
  const started = Date.now();
  const moto = await startMotoServer({ images });
  const proxy = await startMotoGapProxy(moto.endpoint);
  try {
    useMotoEnvironment(proxy.endpoint);
    Object.assign(process.env, {
      STAGE,
      CHANNEL_PARAMETER_PREFIX: PREFIX,
      RETENTION_MAX_AGE_DAYS: '30',
      RETENTION_KEEP_LATEST: '3',
      RETENTION_DRY_RUN: 'false',
      RETENTION_CONCURRENCY: values.concurrency,
    });
    const clientConfig = {
      endpoint: moto.endpoint,
      region: TEST_REGION,
      credentials: {
        accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
        secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
      },
    };
    const ssm = new SSMClient(clientConfig);
    await ssm.send(
      new PutParameterCommand({ Name: `${PREFIX}/bench/stable`, Value: current, Type: 'String' }),
    );
    ssm.destroy();
    process.stdout.write(`moto ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n\n`);

    const { handler } = await import('../functions/apply-retention.js');
    const build = {
      buildId: 'bench-000000000000',
      pipeline: 'bench',
      channel: 'stable',
      trigger: 'manual',
      baseImage: 'debian-12',
      imageDefinition: 'base',
      sourceImageId: 'ami-0aaaaaaaaaaaaaaaa',
      sourceImageName: 'debian-12-amd64',
      executionName: 'bench',
      startedAt: new Date(now).toISOString(),
      probeTimeoutSeconds: 600,
    };
    const runs = [...(values['dry-run-first'] ? [true] : []), ...Array.from({ length: 10 }, () => false)];
    let total = 0;
    let credited = 0;
    let invocations = 0;
    for (const dryRun of runs) {
      const before = proxy.operations.length;
      const t0 = Date.now();
      let listedAt: number | undefined;
      const watch = setInterval(() => {
        if (listedAt === undefined && proxy.operations.length > before) listedAt = Date.now();
      }, 100);
      const progress = setInterval(() => {
        const seen = proxy.operations.slice(before);
        const count = (name: string) => seen.filter((op) => op.operation === name).length;
        process.stdout.write(
          `  … ${((Date.now() - t0) / 1000).toFixed(0)} s: ${seen.length} calls, ` +
            `${count('DescribeImageAttribute')} launch-permission reads, ${count('DeregisterImage')} deregistrations\n`,
        );
      }, 30_000);
      const report = await handler(
        { build, retentionDryRun: dryRun },
        lambdaContext(timeoutSeconds * 1000, () => listedAt),
      ).finally(() => {
        clearInterval(progress);
        clearInterval(watch);
      });
      const listing = ((listedAt ?? Date.now()) - t0) / 1000;
      const seconds = (Date.now() - t0) / 1000;
      const own = seconds - listing;
      const calls = new Map<string, number>();
      for (const op of proxy.operations.slice(before))
        calls.set(op.operation, (calls.get(op.operation) ?? 0) + 1);
      if (!dryRun) {
        total += seconds;
        credited += listing;
        invocations += 1;
      }
      process.stdout.write(
        [
          `${dryRun ? 'dry run (plan only)' : `run ${invocations} (plan and delete)`}: ${seconds.toFixed(1)} s wall, ` +
            `of which emulator listing ${listing.toFixed(1)} s; ${own.toFixed(1)} s of the ${timeoutSeconds} s timeout ` +
            `(${((100 * own) / timeoutSeconds).toFixed(0)} %)`,
          `  outcome ${report.outcome}, counts ${JSON.stringify(report.counts)}`,
          `  calls ${JSON.stringify(Object.fromEntries(calls))}`,
          ...(report.warnings?.length ? [`  warnings ${report.warnings.join('; ')}`] : []),
          '',
        ].join('\n'),
      );
      if (!dryRun && report.outcome === 'complete') break;
    }
    process.stdout.write(
      `${count} expired images: ${invocations} invocation(s), ${total.toFixed(1)} s wall in total, ` +
        `${(total - credited).toFixed(1)} s without the emulator's listing (timeout ${timeoutSeconds} s per invocation); ` +
        `load average ${loadavg()
          .map((value) => value.toFixed(1))
          .join(' ')}\n`,
    );
  } finally {
    await proxy.close();
    await moto.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
