/**
 * Triggers and layered pipelines: a layered pipeline's source is its parent channel's image. The
 * watcher starts a child build when the parent channel moves; a push builds every pipeline, a
 * layered one on its parent's current image, and skips it while the parent channel is empty.
 */
import { describe, expect, it } from 'vitest';
import { type LastSeenStore, startPushBuilds, watchBaseImages } from '#commons/aws/triggers.js';
import type { ExecutionInput } from '#commons/execution-input.js';
import type { PipelineConfig } from '#commons/pipelines.js';
import { MemoryChannelPointer, StaticSources } from '../helpers/fakes.js';

const VENDOR_AMI = 'ami-0aaaaaaaaaaaaaaaa';
const PARENT_V1 = 'ami-0ba5e000000000001';
const PARENT_V2 = 'ami-0ba5e000000000002';
const PIPELINES: PipelineConfig[] = [
  { pipeline: 'base', imageDefinition: 'base', baseImage: 'ubuntu-24.04', channel: 'stable' },
  {
    pipeline: 'web',
    imageDefinition: 'web',
    parent: { pipeline: 'base', channel: 'stable' },
    channel: 'stable',
  },
];
const sources = new StaticSources({
  [VENDOR_AMI]: { imageId: VENDOR_AMI, name: 'noble', ownerId: '099720109477', baseImage: 'ubuntu-24.04' },
});

/** A last-seen store in memory (the real one is SSM parameters). */
const memoryLastSeen = () => {
  const seen = new Map<string, string>();
  const store = {
    get: async (pipeline: string) => seen.get(pipeline),
    put: async (pipeline: string, imageId: string) => {
      seen.set(pipeline, imageId);
    },
  } as unknown as LastSeenStore;
  return { seen, store };
};

/** Records every start: the input and the source image that names the execution. */
const recordStarts = () => {
  const starts: Array<{ input: ExecutionInput; sourceImageId: string }> = [];
  const start = async (input: ExecutionInput, sourceImageId: string) => {
    starts.push({ input, sourceImageId });
    return { executionName: `${input.pipeline}-${sourceImageId}`, started: true };
  };
  return { starts, start };
};

describe('watchBaseImages with a layered pipeline', () => {
  it('starts the child when its parent channel moves, and not before the parent has an image', async () => {
    // Prepare
    const pointer = new MemoryChannelPointer();
    const { seen, store } = memoryLastSeen();
    const { starts, start } = recordStarts();
    const deps = { sources, pointer, lastSeen: store, start };

    // Act: nothing promoted to base/stable yet; then v1; then again v1; then v2.
    const before = await watchBaseImages(PIPELINES, deps);
    await pointer.point('base', 'stable', PARENT_V1);
    const afterV1 = await watchBaseImages(PIPELINES, deps);
    const again = await watchBaseImages(PIPELINES, deps);
    await pointer.point('base', 'stable', PARENT_V2);
    const afterV2 = await watchBaseImages(PIPELINES, deps);

    // Assess
    expect(before.find((result) => result.pipeline === 'web')).toEqual({
      pipeline: 'web',
      architecture: 'x86_64',
      baseImage: 'pipeline:base/stable',
      changed: false,
    });
    expect(afterV1.find((result) => result.pipeline === 'web')).toMatchObject({
      changed: true,
      sourceImageId: PARENT_V1,
      started: true,
    });
    expect(again.every((result) => !result.changed)).toBe(true);
    expect(afterV2.find((result) => result.pipeline === 'web')).toMatchObject({ sourceImageId: PARENT_V2 });
    const web = starts.filter((entry) => entry.input.pipeline === 'web');
    expect(web).toEqual([
      {
        input: {
          pipeline: 'web',
          channel: 'stable',
          trigger: 'base-image',
          imageDefinition: 'web',
          parent: { pipeline: 'base', channel: 'stable' },
        },
        sourceImageId: PARENT_V1,
      },
      expect.objectContaining({ sourceImageId: PARENT_V2 }),
    ]);
    expect(seen.get('web')).toBe(PARENT_V2);
    expect(starts.filter((entry) => entry.input.pipeline === 'base')).toEqual([
      expect.objectContaining({ sourceImageId: VENDOR_AMI }),
    ]);
  });
});

describe('startPushBuilds with a layered pipeline', () => {
  const push = { commit: 'c'.repeat(40), repository: 'https://github.com/o/r.git' };

  it("builds the child on its parent channel's current image", async () => {
    const pointer = new MemoryChannelPointer();
    await pointer.point('base', 'stable', PARENT_V1);
    const { starts, start } = recordStarts();

    const results = await startPushBuilds(PIPELINES, push, { sources, pointer, start });

    expect(results.map((result) => result.started)).toEqual([true, true]);
    expect(starts[1]).toEqual({
      input: {
        pipeline: 'web',
        channel: 'stable',
        trigger: 'git-push',
        imageDefinition: 'web',
        parent: { pipeline: 'base', channel: 'stable' },
        ...push,
      },
      sourceImageId: PARENT_V1,
    });
  });

  it('skips the child while its parent channel names no image', async () => {
    const { starts, start } = recordStarts();

    const results = await startPushBuilds(PIPELINES, push, {
      sources,
      pointer: new MemoryChannelPointer(),
      start,
    });

    expect(results).toEqual([
      { pipeline: 'base', architecture: 'x86_64', executionName: `base-${VENDOR_AMI}`, started: true },
      { pipeline: 'web', architecture: 'x86_64', started: false },
    ]);
    expect(starts.map((entry) => entry.input.pipeline)).toEqual(['base']);
  });
});
