/**
 * Promotion under partial failure and concurrency on moto (issue 9 points 1–2), with the real
 * handlers running as their stack roles (IAM evaluated) and the DynamoDB promotion ledger in moto:
 *
 * - a failure injected at each AWS call of PromoteImage, by call index, then CleanupAfterFailure
 *   (channel repaired from the pointer, lease released) and a re-run: the pointer and the tags
 *   agree after the cleanup, and after the re-run the pointer names the newest build;
 * - six executions of the whole ASL at once for one (stage, pipeline, channel), each with its own
 *   build order: exactly one current image, pointer and tags agree, the newest build is current,
 *   every pointer move went to a newer build, the others ended superseded.
 *
 * Agreement is checked independently of `planChannelTags`: the images tagged `<channel>` are
 * exactly the one the pointer names, and at most one image is tagged `previous-<channel>`, one the
 * pointer named before.
 */
import { createHash } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetParameterHistoryCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { compareBuildOrder, parseBuildOrder } from '#commons/core/promotion-order.js';
import { lambdaFunctionKeys } from '#statemachines/definition.js';
import { ANY_INSTANCE } from './doubles/moto-gap-proxy.js';
import { bakeCandidate } from './doubles/packer-bake-double.js';
import { type SlackWebhookDouble, startSlackWebhookDouble } from './doubles/slack-webhook-double.js';
import { buildDocument, PASSING_PROBE } from './fixtures/build.js';
import { PUBLISHED } from './fixtures/image-catalog.js';
import { runPipelineOnMoto } from './fixtures/pipeline-run.js';
import {
  type AwsSide,
  findImage,
  importHandler,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  ownImages,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';

const {
  CHANNEL_PARAMETER_PREFIX: PREFIX,
  SLACK_WEBHOOK_PARAMETER,
  PROMOTION_LEDGER_TABLE,
  STAGE,
} = stackSettings();
const SOURCE = PUBLISHED['ubuntu-24.04'].current;
let aws: AwsSide;
let slack: SlackWebhookDouble;
const handlers = new Map<string, LambdaHandler>();
const handler = (key: string): LambdaHandler<Record<string, unknown>> =>
  handlers.get(key) as LambdaHandler<Record<string, unknown>>;

beforeAll(async () => {
  slack = await startSlackWebhookDouble(inject('testTls'));
  aws = await startAwsSide({ env: { CHANNEL_PARAMETER_PREFIX: PREFIX, SLACK_WEBHOOK_PARAMETER } });
  await aws.ssm.send(
    new PutParameterCommand({ Name: SLACK_WEBHOOK_PARAMETER, Value: slack.url, Type: 'SecureString' }),
  );
  aws.proxy.publicParameters.publish(BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64, SOURCE.imageId);
  for (const key of new Set([...Object.values(lambdaFunctionKeys()), 'rollback-channel'])) {
    handlers.set(key, await importHandler(key));
  }
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await slack?.close();
  await aws?.close();
});

/** A full commit id derived from `seed`. */
const commitOf = (seed: string): string => createHash('sha1').update(seed).digest('hex');

/** Bake a candidate for `pipeline`/`channel` with the given sequence (a later sequence is newer). */
const bake = (pipeline: string, channel: string, sequence: number, commit: string) =>
  bakeCandidate(
    aws.ec2,
    buildDocument({ pipeline, channel, commit, order: { sourceCreatedAt: SOURCE.createdAt, sequence } }),
  );
type Baked = Awaited<ReturnType<typeof bake>>;

/** The channel's pointer history (newest first) and the pipeline's channel tags, from moto. */
const channelState = async (pipeline: string, channel: string) => {
  let history: string[] = [];
  try {
    const { Parameters } = await aws.ssm.send(
      new GetParameterHistoryCommand({ Name: `${PREFIX}/${pipeline}/${channel}` }),
    );
    history = (Parameters ?? [])
      .sort((a, b) => (b.Version ?? 0) - (a.Version ?? 0))
      .map((p) => p.Value ?? '');
  } catch (error) {
    if ((error as Error).name !== 'ParameterNotFound') throw error;
  }
  const images = (await ownImages(aws.ec2)).filter((image) => tagsOf(image)['factory:pipeline'] === pipeline);
  const tagged = (value: string) =>
    images.filter((image) => tagsOf(image)['factory:channel'] === value).map((image) => image.ImageId ?? '');
  return {
    history,
    current: tagged(channel),
    previous: tagged(`previous-${channel}`),
    orderOf: (imageId: string) =>
      parseBuildOrder(tagsOf(images.find((image) => image.ImageId === imageId) ?? {})['factory:build-order']),
  };
};

/** Pointer and tags agree (see the file header). */
const agreement = (state: Awaited<ReturnType<typeof channelState>>): string | true => {
  const named = state.history[0];
  const expected = named === undefined ? [] : [named];
  if (JSON.stringify(state.current) !== JSON.stringify(expected))
    return `tagged current ${JSON.stringify(state.current)}, pointer names ${named ?? 'nothing'}`;
  if (state.previous.length > 1) return `${state.previous.length} images tagged previous`;
  const previous = state.previous[0];
  if (previous !== undefined && (previous === named || !state.history.includes(previous)))
    return `previous ${previous} is not an earlier position of the pointer`;
  return true;
};

/** The lease item of a channel in the ledger table (undefined when released or never taken). */
const leaseOf = async (pipeline: string, channel: string) =>
  (
    await aws.dynamodb.send(
      new GetItemCommand({
        TableName: PROMOTION_LEDGER_TABLE,
        Key: { pk: { S: `${STAGE}#${pipeline}#${channel}` } },
        ConsistentRead: true,
      }),
    )
  ).Item;

/** AcquirePromotionLease → PromoteImage → ReleasePromotionLease, as the ASL runs them. */
const promoteUnderLease = async (baked: Baked) => {
  const promotionLease = await invoke(handler('acquire-promotion-lease'), { build: baked.build });
  const promotion = await invoke(handler('promote-image'), { ...baked, promotionLease });
  await invoke(handler('release-promotion-lease'), { build: baked.build });
  return promotion;
};

describe('PromoteImage with a failure at each of its AWS calls', () => {
  /**
   * Channel `channel` of `pipeline` has A (sequence 10) current; the candidate B (sequence 20 when
   * `newer`, else 5: A stays current) is promoted with the `call`-th AWS call failing (0: none).
   */
  const scenario = async (pipeline: string, channel: string, newer: boolean, call: number) => {
    const a = await bake(pipeline, channel, 10, commitOf(`${pipeline}/${channel}/a`));
    await promoteUnderLease(a);
    const b = await bake(pipeline, channel, newer ? 20 : 5, commitOf(`${pipeline}/${channel}/b`));
    const promotionLease = await invoke(handler('acquire-promotion-lease'), { build: b.build });
    const before = aws.proxy.operations.length;
    const failed = call > 0 ? aws.proxy.faults.failCall(call, 403, 'AccessDenied') : () => undefined;
    const error = await invoke(handler('promote-image'), { ...b, promotionLease }).then(
      () => undefined,
      (thrown: Error) => thrown,
    );
    aws.proxy.faults.clear();
    const calls = aws.proxy.operations.slice(before).map((op) => `${op.service}:${op.operation}`);
    return { a, b, promotionLease, error, calls, failed: failed() };
  };

  it.each([
    ['a newer build (promoted on the re-run)', 'fault', true],
    ['an older build (superseded on the re-run)', 'fault-old', false],
  ])(
    '%s: after cleanup pointer and tags agree; after the re-run the newest build is current',
    async (_label, pipeline, newer) => {
      // Prepare: how many AWS calls an undisturbed promotion makes.
      const dry = await scenario(pipeline, 'dry', newer, 0);
      expect(dry.error).toBeUndefined();
      const total = dry.calls.length;
      // Newer: images, pointer, order tag, PutParameter, its read-back, history, two retags, and
      // Image Promoted put on the bus. Older: images, pointer, the candidate retired, history (the
      // channel's tags already agree), and Build Superseded put on the bus.
      expect(total).toBe(newer ? 9 : 5);
      expect(dry.calls.at(-1)).toBe('events:PutEvents');
      const figures: string[] = [];

      for (let call = 1; call <= total; call += 1) {
        // Act: the call-th AWS call of PromoteImage fails, then the failure path and a re-run.
        const channel = `c${call}`;
        const { a, b, promotionLease, error, failed } = await scenario(pipeline, channel, newer, call);
        // The event is put last; the publisher reports its failure as EventPublishFailed (retried by the ASL).
        expect(error?.name, `call ${call} (${failed})`).toBe(
          call === total ? 'EventPublishFailed' : 'AccessDenied',
        );
        // As the ASL hands it over: TerminateTestInstance ran before the lease was taken.
        const cleanup = await invoke(handler('cleanup-after-failure'), {
          ...b,
          termination: { terminatedInstanceIds: [] },
          promotionLease,
          error: { Error: error?.name ?? '', Cause: error?.message ?? '' },
        });
        const afterCleanup = await channelState(pipeline, channel);
        const leaseAfterCleanup = await leaseOf(pipeline, channel);
        const rerun = await promoteUnderLease(b);
        const afterRerun = await channelState(pipeline, channel);

        // Assess
        expect(cleanup.channel, `call ${call} (${failed})`).toMatchObject({ lease: 'released' });
        expect(agreement(afterCleanup), `call ${call} (${failed}) after cleanup`).toBe(true);
        expect([a.candidate.imageId, b.candidate.imageId]).toContain(afterCleanup.history[0]);
        expect(leaseAfterCleanup).toBeUndefined();
        expect(agreement(afterRerun), `call ${call} (${failed}) after the re-run`).toBe(true);
        const newest = newer ? b.candidate.imageId : a.candidate.imageId;
        expect(afterRerun.history[0], `call ${call} (${failed})`).toBe(newest);
        expect(rerun.outcome).toBe(newer ? 'promoted' : 'superseded');
        expect(await leaseOf(pipeline, channel)).toBeUndefined();
        figures.push(
          `${call}:${failed} → cleanup retagged ${(cleanup.channel as { retagged: number }).retagged}, current ${afterCleanup.history[0] === b.candidate.imageId ? 'B' : 'A'}; re-run ${rerun.outcome}`,
        );
      }
      console.info(
        `promotion faults (${newer ? 'newer' : 'older'} candidate): ${total} AWS calls, ${figures.length} faults injected, pointer/tags agree after every cleanup and re-run\n  ${figures.join('\n  ')}`,
      );
    },
    180_000,
  );
});

describe('six concurrent executions for one (stage, pipeline, channel)', () => {
  it('end with exactly one current image, the newest build, pointer and tags agreeing; the rest superseded', async () => {
    // Prepare
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 0);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Success', stdout: PASSING_PROBE }]);
    slack.respondWith(200);
    const slackBefore = slack.received.length;
    const commits = Array.from({ length: 6 }, (_, n) => `c0ffee${n}`.padEnd(40, '0'));

    // Act: all six at once; the lease retrier pauses 250 ms between attempts (40 attempts: 10 s).
    const runs = await Promise.all(
      commits.map((commit) =>
        runPipelineOnMoto(
          aws,
          handlers,
          SOURCE.imageId,
          { pipeline: 'conc', imageDefinition: 'web', baseImage: 'ubuntu-24.04', channel: 'stable', commit },
          { retryIntervals: { AcquirePromotionLease: [0, 250] } },
        ),
      ),
    );

    // Assess: every execution succeeded, promoted or superseded
    expect(runs.map((run) => run.error)).toEqual(runs.map(() => undefined));
    expect(runs.map((run) => run.status)).toEqual(runs.map(() => 'SUCCEEDED'));
    const builds = runs.map((run) => {
      const output = run.output as unknown as {
        build: { order: { sourceCreatedAt: string; sequence: number } };
        candidate: { imageId: string };
        promotion: { outcome: string };
      };
      return {
        order: output.build.order,
        imageId: output.candidate.imageId,
        outcome: output.promotion.outcome,
        waited: run.retries('AcquirePromotionLease'),
      };
    });
    expect(new Set(builds.map((b) => b.order.sequence)).size).toBe(6);
    const newest = [...builds].sort((x, y) => compareBuildOrder(y.order, x.order))[0];
    const state = await channelState('conc', 'stable');
    expect(agreement(state)).toBe(true);
    expect(state.current).toEqual([newest?.imageId]);
    expect(state.history[0]).toBe(newest?.imageId);
    // Monotonic: every move of the pointer went to a newer build.
    const moves = [...state.history].reverse().map((imageId) => state.orderOf(imageId));
    for (let n = 1; n < moves.length; n += 1) {
      expect(compareBuildOrder(moves[n] as never, moves[n - 1] as never)).toBeGreaterThan(0);
    }
    const promoted = builds.filter((b) => b.outcome === 'promoted');
    const superseded = builds.filter((b) => b.outcome === 'superseded');
    expect(promoted.length + superseded.length).toBe(6);
    expect(promoted.map((b) => b.imageId).sort()).toEqual([...state.history].sort());
    for (const build of superseded) {
      expect(tagsOf((await findImage(aws.ec2, build.imageId)) ?? {})['factory:channel']).toBe('retired');
    }
    expect(await leaseOf('conc', 'stable')).toBeUndefined();
    const reports = slack.received.slice(slackBefore).map((message) => JSON.stringify(message));
    expect(reports.filter((text) => text.includes('superseded on stable'))).toHaveLength(superseded.length);
    console.info(
      `concurrent promotions: attempted 6, promoted ${promoted.length}, superseded ${superseded.length}, ` +
        `lease waits ${builds.map((b) => b.waited).join('/')}, pointer versions ${state.history.length}, ` +
        `current = newest (sequence ${newest?.order.sequence}), pointer/tag agreement ${agreement(state) === true}`,
    );
  }, 180_000);

  it('a rollback is refused (PromotionLeaseHeld) while a promotion holds the lease, and runs once it is released', async () => {
    // Prepare
    const a = await bake('conc', 'beta', 1, commitOf('conc/beta/a'));
    await promoteUnderLease(a);
    const b = await bake('conc', 'beta', 2, commitOf('conc/beta/b'));
    await promoteUnderLease(b);
    await invoke(handler('acquire-promotion-lease'), { build: b.build });

    // Act
    const error = await invokeExpectingError(handler('rollback-channel'), {
      pipeline: 'conc',
      channel: 'beta',
    });
    await invoke(handler('release-promotion-lease'), { build: b.build });
    const rolledBack = await invoke(handler('rollback-channel'), { pipeline: 'conc', channel: 'beta' });

    // Assess
    expect(error.name).toBe('PromotionLeaseHeld');
    expect(rolledBack).toMatchObject({ imageId: a.candidate.imageId, withdrawnImageId: b.candidate.imageId });
    expect(agreement(await channelState('conc', 'beta'))).toBe(true);
    expect(await leaseOf('conc', 'beta')).toBeUndefined();
  });
});
