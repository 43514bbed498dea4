/**
 * PromoteImage and the manual rollback (rollback-channel) against moto: the `factory:channel` tags
 * move between AMIs, and the channel's SSM parameter keeps its version history, the rollback trail.
 */
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bakeCandidate } from './doubles/packer-bake-double.js';
import { buildDocument } from './fixtures/build.js';
import {
  type AwsSide,
  findImage,
  importHandler,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';

const PREFIX = stackSettings().CHANNEL_PARAMETER_PREFIX;
let aws: AwsSide;
let promote: LambdaHandler<Record<string, unknown>>;
let rollback: LambdaHandler<Record<string, unknown>>;

beforeAll(async () => {
  aws = await startAwsSide({ env: { CHANNEL_PARAMETER_PREFIX: PREFIX } });
  promote = await importHandler('promote-image');
  rollback = await importHandler('rollback-channel');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await aws?.close();
});

/** Bake a candidate for `pipeline` (a distinct commit gives a distinct build). */
const bake = (pipeline: string, commit: string, channel = 'stable') =>
  bakeCandidate(aws.ec2, buildDocument({ pipeline, channel, commit }));

const channelTag = async (imageId: string): Promise<string | undefined> =>
  tagsOf((await findImage(aws.ec2, imageId)) ?? {})['factory:channel'];

const history = async (pipeline: string, channel: string) => {
  const { Parameters } = await aws.ssm.send(
    new GetParameterHistoryCommand({ Name: `${PREFIX}/${pipeline}/${channel}` }),
  );
  return (Parameters ?? []).map((p) => [p.Version, p.Value]);
};

describe('PromoteImage', () => {
  it('promotes three builds in turn: tags shift current → previous → retired, the parameter keeps every version', async () => {
    // Prepare
    const a = await bake('web', 'a'.repeat(40));
    const b = await bake('web', 'b'.repeat(40));
    const c = await bake('web', 'c'.repeat(40));

    // Act
    const first = await invoke(promote, a);
    const second = await invoke(promote, b);
    const third = await invoke(promote, c);

    // Assess
    expect(first).toMatchObject({
      channel: 'stable',
      imageId: a.candidate.imageId,
      previousImageId: null,
      parameterVersion: 1,
    });
    expect(second).toMatchObject({
      imageId: b.candidate.imageId,
      previousImageId: a.candidate.imageId,
      parameterVersion: 2,
    });
    expect(third).toMatchObject({
      imageId: c.candidate.imageId,
      previousImageId: b.candidate.imageId,
      parameterName: `${PREFIX}/web/stable`,
      parameterVersion: 3,
    });
    expect(await channelTag(c.candidate.imageId)).toBe('stable');
    expect(await channelTag(b.candidate.imageId)).toBe('previous-stable');
    expect(await channelTag(a.candidate.imageId)).toBe('retired');
    expect(await history('web', 'stable')).toEqual([
      [1, a.candidate.imageId],
      [2, b.candidate.imageId],
      [3, c.candidate.imageId],
    ]);
  });

  it('is idempotent: a retried promotion changes no tag and writes no parameter version', async () => {
    // Prepare
    const d = await bake('retry', 'd'.repeat(40));
    const once = await invoke(promote, d);

    // Act
    const again = await invoke(promote, d);

    // Assess
    expect(again).toEqual({ ...once, reason: 'already current' });
    expect(await history('retry', 'stable')).toEqual([[1, d.candidate.imageId]]);
  });

  it("leaves other channels and other pipelines' images alone", async () => {
    // Prepare
    const beta = await bake('web2', 'e'.repeat(40), 'beta');
    await invoke(promote, beta);
    const otherPipeline = await bake('api', 'f'.repeat(40));
    await invoke(promote, otherPipeline);
    const stable = await bake('web2', '1'.repeat(40));

    // Act
    await invoke(promote, stable);

    // Assess
    expect(await channelTag(beta.candidate.imageId)).toBe('beta');
    expect(await channelTag(otherPipeline.candidate.imageId)).toBe('stable');
    expect(await channelTag(stable.candidate.imageId)).toBe('stable');
  });

  it("refuses another pipeline's image as candidate (CandidateNotFound) and changes nothing", async () => {
    // Prepare
    const foreign = await bake('other', '2'.repeat(40));
    const build = buildDocument({ pipeline: 'victim', commit: '3'.repeat(40) });

    // Act
    const error = await invokeExpectingError(promote, { build, candidate: foreign.candidate });

    // Assess
    expect(error.name).toBe('CandidateNotFound');
    expect(await channelTag(foreign.candidate.imageId)).toBe('candidate');
  });
});

describe('rollback-channel', () => {
  it('points the channel back to its previous promoted image and withdraws the current one', async () => {
    // Prepare
    const a = await bake('rb', '4'.repeat(40));
    const b = await bake('rb', '5'.repeat(40));
    await invoke(promote, a);
    await invoke(promote, b);

    // Act
    const result = await invoke(rollback, { pipeline: 'rb', channel: 'stable' });

    // Assess
    expect(result).toMatchObject({
      pipeline: 'rb',
      channel: 'stable',
      imageId: a.candidate.imageId,
      withdrawnImageId: b.candidate.imageId,
      parameterVersion: 3,
    });
    expect(await channelTag(a.candidate.imageId)).toBe('stable');
    expect(await channelTag(b.candidate.imageId)).toBe('rolled-back');
    expect(await history('rb', 'stable')).toEqual([
      [1, a.candidate.imageId],
      [2, b.candidate.imageId],
      [3, a.candidate.imageId],
    ]);
  });

  it('walks further back on a second rollback instead of returning to the withdrawn image', async () => {
    // Prepare
    const a = await bake('rb4', 'a1'.repeat(20));
    const b = await bake('rb4', 'b1'.repeat(20));
    const c = await bake('rb4', 'c1'.repeat(20));
    for (const baked of [a, b, c]) await invoke(promote, baked);
    await invoke(rollback, { pipeline: 'rb4', channel: 'stable' });

    // Act
    const second = await invoke(rollback, { pipeline: 'rb4', channel: 'stable' });

    // Assess
    expect(second).toMatchObject({
      imageId: a.candidate.imageId,
      withdrawnImageId: b.candidate.imageId,
      parameterVersion: 5,
    });
    expect(await channelTag(a.candidate.imageId)).toBe('stable');
    expect(await channelTag(b.candidate.imageId)).toBe('rolled-back');
    expect(await channelTag(c.candidate.imageId)).toBe('rolled-back');
  });

  it('rolls back to an explicitly named image of the pipeline', async () => {
    // Prepare
    const a = await bake('rb2', '6'.repeat(40));
    const b = await bake('rb2', '7'.repeat(40));
    const c = await bake('rb2', '8'.repeat(40));
    for (const baked of [a, b, c]) await invoke(promote, baked);

    // Act
    const result = await invoke(rollback, {
      pipeline: 'rb2',
      channel: 'stable',
      imageId: a.candidate.imageId,
    });

    // Assess
    expect(result).toMatchObject({
      imageId: a.candidate.imageId,
      withdrawnImageId: c.candidate.imageId,
      parameterVersion: 4,
    });
    expect(await channelTag(a.candidate.imageId)).toBe('stable');
    expect(await channelTag(c.candidate.imageId)).toBe('rolled-back');
  });

  it('refuses a channel that was never promoted, and an image of another pipeline (InvalidInput)', async () => {
    // Prepare
    const foreign = await bake('rb-foreign', '9'.repeat(40));
    const mine = await bake('rb3', '0'.repeat(40));
    await invoke(promote, mine);

    // Act
    const never = await invokeExpectingError(rollback, { pipeline: 'never', channel: 'stable' });
    const crossPipeline = await invokeExpectingError(rollback, {
      pipeline: 'rb3',
      channel: 'stable',
      imageId: foreign.candidate.imageId,
    });

    // Assess
    expect(never.name).toBe('InvalidInput');
    expect(crossPipeline.name).toBe('InvalidInput');
    expect(await history('rb3', 'stable')).toEqual([[1, mine.candidate.imageId]]);
  });
});
