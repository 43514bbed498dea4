/**
 * A build's source image, resolved once for PrepareBuild, the triggers and `factory start`
 * (`functions/commons/build-source.ts`): the parent channel's image for a layered build, else the
 * given or current source AMI of the base image, whose publisher must be trusted.
 */
import { describe, expect, it } from 'vitest';
import { resolveBaseImageSource, resolvePipelineSource } from '#commons/build-source.js';
import { MemoryChannelPointer, StaticSources } from './helpers/fakes.js';

const CURRENT = 'ami-0aaaaaaaaaaaaaaaa';
const OLDER = 'ami-0bbbbbbbbbbbbbbbb';
const FOREIGN = 'ami-0cccccccccccccccc';
const CANONICAL = '099720109477';
const sources = () =>
  new StaticSources({
    [CURRENT]: { imageId: CURRENT, name: 'noble current', ownerId: CANONICAL, baseImage: 'ubuntu-24.04' },
    [OLDER]: { imageId: OLDER, name: 'noble older', ownerId: CANONICAL },
    [FOREIGN]: { imageId: FOREIGN, name: 'noble lookalike', ownerId: '111122223333' },
  });

describe('resolveBaseImageSource', () => {
  it('takes the base image’s current source AMI when none is given', async () => {
    expect(await resolveBaseImageSource(sources(), 'ubuntu-24.04')).toMatchObject({ imageId: CURRENT });
  });

  it('takes a given source AMI of a trusted publisher, not the current one', async () => {
    expect(await resolveBaseImageSource(sources(), 'ubuntu-24.04', OLDER)).toMatchObject({ imageId: OLDER });
  });

  it.each([
    [
      'a source AMI that does not exist',
      'ami-0dddddddddddddddd',
      { name: 'InvalidInput', message: /does not exist/ },
    ],
    ['a source AMI of another owner', FOREIGN, { name: 'ForeignBaseImage' }],
  ])('refuses %s', async (_what, imageId, error) => {
    await expect(resolveBaseImageSource(sources(), 'ubuntu-24.04', imageId)).rejects.toMatchObject(error);
  });

  it('refuses a base image outside the catalog', async () => {
    await expect(resolveBaseImageSource(sources(), 'windows-95')).rejects.toMatchObject({
      name: 'UnknownBaseImage',
    });
  });
});

describe('resolvePipelineSource', () => {
  it('names a base-image build by its vetted source AMI, in the input fields that carry it', async () => {
    const resolved = await resolvePipelineSource(
      { baseImage: 'ubuntu-24.04', sourceImageId: OLDER },
      { sources: sources(), pointer: new MemoryChannelPointer() },
    );
    expect(resolved).toEqual({
      sourceImageId: OLDER,
      input: { baseImage: 'ubuntu-24.04', sourceImageId: OLDER },
    });
  });

  it('names a layered build by the image its parent channel names now, and keeps the parent', async () => {
    const pointer = new MemoryChannelPointer();
    await pointer.point('base', 'stable', 'ami-0ba5e000000000001');
    await pointer.point('base', 'stable', 'ami-0ba5e000000000002');
    const parent = { pipeline: 'base', channel: 'stable' };
    expect(await resolvePipelineSource({ parent }, { sources: sources(), pointer })).toEqual({
      sourceImageId: 'ami-0ba5e000000000002',
      input: { parent },
    });
  });

  it('has nothing to build from while the parent channel names no image', async () => {
    const request = { parent: { pipeline: 'base', channel: 'beta' } };
    expect(
      await resolvePipelineSource(request, { sources: sources(), pointer: new MemoryChannelPointer() }),
    ).toBeUndefined();
  });

  it('refuses a request with neither a parent nor a base image, before reading anything', async () => {
    const unread = {
      resolve: () => Promise.reject(new Error('read')),
      describe: () => Promise.reject(new Error('read')),
    };
    const pointer = { current: () => Promise.reject(new Error('read')) };
    await expect(resolvePipelineSource({}, { sources: unread, pointer })).rejects.toMatchObject({
      name: 'InvalidInput',
      message: 'baseImage is required unless parent is given',
    });
  });
});
