/**
 * PrepareBuild of a layered build (`input.parent`): the source is the image the parent pipeline's
 * channel names, checked, with its base image inherited and the lineage recorded; every refusal
 * changes nothing (no build sequence is taken).
 */
import { describe, expect, it } from 'vitest';
import { executionName } from '#commons/core/build-key.js';
import { TAG } from '#commons/core/tags.js';
import { InvalidInput, UnusableParentImage } from '#commons/errors.js';
import { PrepareBuildInput } from '#commons/handler-inputs.js';
import type { ImageRecord } from '#commons/ports.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';
import { MemoryChannelPointer, MemoryImageStore, MemoryPromotionLedger } from '../helpers/fakes.js';
import { NOW } from '../helpers/fixtures.js';

const PARENT_ID = 'ami-0ba5eba5eba5eba5e';
const PARENT_CREATED = '2026-06-20T10:00:00.000Z';
const options = { probeTimeoutSeconds: 900, now: () => NOW };

/** The base pipeline's promoted image, as PromoteImage leaves its tags. */
const parentImage = (tags: Record<string, string> = {}): ImageRecord => ({
  imageId: PARENT_ID,
  name: 'base-0123456789ab-20260620100000',
  createdAt: PARENT_CREATED,
  tags: {
    [TAG.pipeline]: 'base',
    [TAG.channel]: 'stable',
    [TAG.baseImage]: 'ubuntu-24.04',
    [TAG.buildId]: 'base-0123456789ab',
    ...tags,
  },
  snapshotIds: ['snap-0ba5eba5eba5eba5e'],
});

/** Ports with `base/stable` pointing at `image`'s id (when `point`), and a record of every source lookup. */
const setup = async (image: ImageRecord | undefined, point = true) => {
  const pointer = new MemoryChannelPointer();
  if (point) await pointer.point('base', 'stable', PARENT_ID);
  const ledger = new MemoryPromotionLedger();
  const lookups: string[] = [];
  const sources = {
    resolve: async (name: string) => {
      lookups.push(`resolve ${name}`);
      throw new Error('a layered build resolves no public base image');
    },
    describe: async (id: string) => {
      lookups.push(`describe ${id}`);
      return undefined;
    },
  };
  const images = new MemoryImageStore(image ? [image] : []);
  return { ports: { sources, ledger, parents: { pointer, images } }, ledger, lookups, images };
};

const layered = (input: Record<string, unknown> = {}) =>
  PrepareBuildInput.parse({ pipeline: 'web', parent: { pipeline: 'base' }, ...input });

describe('prepareBuild of a layered build', () => {
  it("bakes from the parent channel's image: its base image, its creation time, the lineage recorded", async () => {
    // Prepare
    const { ports, lookups } = await setup(parentImage());

    // Act
    const build = await prepareBuild(layered(), ports, options);

    // Assess
    expect(build).toMatchObject({
      pipeline: 'web',
      imageDefinition: 'web',
      baseImage: 'ubuntu-24.04',
      sourceImageId: PARENT_ID,
      sourceImageName: 'base-0123456789ab-20260620100000',
      parent: { pipeline: 'base', channel: 'stable', imageId: PARENT_ID },
      order: { sourceCreatedAt: PARENT_CREATED, sequence: 1 },
      executionName: executionName({ pipeline: 'web', channel: 'stable', sourceImageId: PARENT_ID }),
    });
    expect(lookups).toEqual([]);
  });

  it('accepts a baseImage that is the parent one', async () => {
    const { ports } = await setup(parentImage());

    const build = await prepareBuild(layered({ baseImage: 'ubuntu-24.04' }), ports, options);

    expect(build.baseImage).toBe('ubuntu-24.04');
  });

  it.each<[string, ImageRecord | undefined, boolean, RegExp]>([
    [
      'the parent channel names no image (unknown pipeline, or nothing promoted yet)',
      parentImage(),
      false,
      /^parent base\/stable: the channel names no image .*promote a build of base first/,
    ],
    [
      'the pointer names an image this account does not own (or that is gone)',
      undefined,
      true,
      /the channel names ami-0ba5eba5eba5eba5e, which is not an image of this account/,
    ],
    [
      "the image is another pipeline's",
      parentImage({ [TAG.pipeline]: 'api' }),
      true,
      /is not an image of pipeline base \(factory:pipeline=api\)/,
    ],
    [
      'the image is not promoted to that channel',
      parentImage({ [TAG.channel]: 'previous-stable' }),
      true,
      /is not promoted to stable \(factory:channel=previous-stable\)/,
    ],
    [
      'the image names no catalog base image (baked before layering existed)',
      { ...parentImage(), tags: { [TAG.pipeline]: 'base', [TAG.channel]: 'stable' } },
      true,
      /has no factory:base-image tag naming a catalog base image \(none\); rebake the parent/,
    ],
    [
      'the image names an unknown base image',
      parentImage({ [TAG.baseImage]: 'centos-7' }),
      true,
      /\(centos-7\); rebake the parent/,
    ],
    [
      'the image has no creation time',
      { ...parentImage(), createdAt: '' },
      true,
      /has no creation time to order the build by/,
    ],
  ])('refuses when %s, taking no build sequence', async (_case, image, point, message) => {
    // Prepare
    const { ports, ledger } = await setup(image, point);

    // Act
    const failure = prepareBuild(layered(), ports, options);

    // Assess
    await expect(failure).rejects.toThrow(UnusableParentImage);
    await expect(failure).rejects.toThrow(message);
    expect(ledger.sequences.size).toBe(0);
  });

  it('refuses a baseImage other than the parent one', async () => {
    const { ports, ledger } = await setup(parentImage());

    const failure = prepareBuild(layered({ baseImage: 'al2023' }), ports, options);

    await expect(failure).rejects.toThrow(InvalidInput);
    await expect(failure).rejects.toThrow(
      /baseImage al2023 differs from ubuntu-24.04, the base image of parent base\/stable/,
    );
    expect(ledger.sequences.size).toBe(0);
  });

  it('refuses a layered build where the backend gives no parent ports', async () => {
    const { ports } = await setup(parentImage());

    const failure = prepareBuild(layered(), { sources: ports.sources, ledger: ports.ledger }, options);

    await expect(failure).rejects.toThrow(/cannot resolve parent pipelines/);
  });

  it.each([
    [
      { pipeline: 'base', parent: { pipeline: 'base' } },
      /parent\.pipeline: pipeline base cannot be its own parent/,
    ],
    [
      { pipeline: 'web', parent: { pipeline: 'base' }, sourceImageId: PARENT_ID },
      /sourceImageId: sourceImageId and parent exclude each other/,
    ],
    [
      { pipeline: 'web', parent: { pipeline: 'base', channel: 'candidate' } },
      /parent\.channel: channel must not be/,
    ],
    [{ pipeline: 'web', parent: 'base' }, /parent: parent must be \{ pipeline, channel \}/],
  ])('rejects the input %j before anything is read', (input, message) => {
    const result = PrepareBuildInput.safeParse(input);

    expect(result.success).toBe(false);
    expect(
      result.error?.issues.map((issue) => `${issue.path.slice(1).join('.')}: ${issue.message}`).join('; '),
    ).toMatch(message);
  });
});
