/**
 * Triggers and architectures: one trigger starts one execution per declared architecture, each
 * with its architecture's source AMI, and keeps a last-seen source per track (x86_64 under the
 * pipeline's own name, as before architectures).
 */
import { describe, expect, it } from 'vitest';
import { type LastSeenStore, startPushBuilds, watchBaseImages } from '#commons/aws/triggers.js';
import { parseArchitectures } from '#commons/core/architectures.js';
import { MissingConfiguration } from '#commons/errors.js';
import type { ExecutionInput } from '#commons/execution-input.js';
import { type PipelineConfig, withArchitectures } from '#commons/pipelines.js';
import { MemoryChannelPointer, StaticSources } from '../helpers/fakes.js';

const X86_AMI = 'ami-0aaaaaaaaaaaaaaa1';
const ARM_AMI = 'ami-0aaaaaaaaaaaaaaa2';
const CANONICAL = '099720109477';
const sources = new StaticSources({
  [X86_AMI]: { imageId: X86_AMI, name: 'noble amd64', ownerId: CANONICAL, baseImage: 'ubuntu-24.04' },
  [ARM_AMI]: {
    imageId: ARM_AMI,
    name: 'noble arm64',
    ownerId: CANONICAL,
    baseImage: 'ubuntu-24.04',
    architecture: 'arm64',
  },
});
const CONFIGURED: PipelineConfig[] = [
  { pipeline: 'web', imageDefinition: 'web', baseImage: 'ubuntu-24.04', channel: 'stable' },
  { pipeline: 'base', imageDefinition: 'base', baseImage: 'ubuntu-24.04', channel: 'stable' },
];
const PIPELINES = withArchitectures(CONFIGURED, parseArchitectures('web=x86_64+arm64'));

const recorder = () => {
  const seen = new Map<string, string>();
  const lastSeen = {
    get: async (track: string) => seen.get(track),
    put: async (track: string, imageId: string) => {
      seen.set(track, imageId);
    },
  } as unknown as LastSeenStore;
  const starts: Array<{ input: ExecutionInput; sourceImageId: string }> = [];
  const start = async (input: ExecutionInput, sourceImageId: string) => {
    starts.push({ input, sourceImageId });
    return { executionName: `${input.pipeline}-${input.architecture ?? 'x86_64'}`, started: true };
  };
  return { seen, lastSeen, starts, start };
};

describe('withArchitectures', () => {
  it('gives each pipeline its declared architectures (x86_64 when none)', () => {
    expect(PIPELINES.map((entry) => [entry.pipeline, entry.architectures])).toEqual([
      ['web', ['x86_64', 'arm64']],
      ['base', ['x86_64']],
    ]);
  });

  it('refuses a pipeline that is not configured, and a layered child building what its parent does not', () => {
    expect(() => withArchitectures(CONFIGURED, parseArchitectures('api=arm64'))).toThrow(
      MissingConfiguration,
    );
    const layered: PipelineConfig[] = [
      CONFIGURED[1] as PipelineConfig,
      {
        pipeline: 'app',
        imageDefinition: 'web',
        parent: { pipeline: 'base', channel: 'stable' },
        channel: 'stable',
      },
    ];
    expect(() => withArchitectures(layered, parseArchitectures('app=x86_64+arm64'))).toThrow(
      'layered pipeline app builds arm64, which its parent base does not (x86_64)',
    );
    expect(
      withArchitectures(layered, parseArchitectures('app=arm64,base=x86_64+arm64'))[1]?.architectures,
    ).toEqual(['arm64']);
  });
});

describe('watchBaseImages with two architectures', () => {
  it('starts one execution per architecture from its own source AMI, and records each track', async () => {
    const { seen, lastSeen, starts, start } = recorder();
    const deps = { sources, pointer: new MemoryChannelPointer(), lastSeen, start };

    const first = await watchBaseImages(PIPELINES, deps);
    const again = await watchBaseImages(PIPELINES, deps);

    expect(first.map((r) => [r.pipeline, r.architecture, r.sourceImageId, r.changed])).toEqual([
      ['web', 'x86_64', X86_AMI, true],
      ['web', 'arm64', ARM_AMI, true],
      ['base', 'x86_64', X86_AMI, true],
    ]);
    expect(again.every((result) => !result.changed)).toBe(true);
    // The x86_64 input is the one from before architectures: no architecture key.
    expect(
      starts.map(({ input, sourceImageId }) => [input.pipeline, input.architecture, sourceImageId]),
    ).toEqual([
      ['web', undefined, X86_AMI],
      ['web', 'arm64', ARM_AMI],
      ['base', undefined, X86_AMI],
    ]);
    expect(Object.fromEntries(seen)).toEqual({ web: X86_AMI, 'web/arm64': ARM_AMI, base: X86_AMI });
  });
});

describe('startPushBuilds with two architectures', () => {
  it('builds every declared architecture of every pipeline for the pushed commit', async () => {
    const { starts, start } = recorder();
    const results = await startPushBuilds(
      PIPELINES,
      { commit: 'c'.repeat(40), repository: 'https://github.com/acme/images.git' },
      { sources, pointer: new MemoryChannelPointer(), start },
    );
    expect(results.map((r) => [r.pipeline, r.architecture, r.started])).toEqual([
      ['web', 'x86_64', true],
      ['web', 'arm64', true],
      ['base', 'x86_64', true],
    ]);
    expect(starts[1]?.input).toMatchObject({
      pipeline: 'web',
      architecture: 'arm64',
      sourceImageId: ARM_AMI,
    });
  });

  it('a layered arm64 child builds on the parent arm64 channel, not the x86_64 one', async () => {
    const pointer = new MemoryChannelPointer();
    await pointer.point('base', 'stable', 'ami-0ba5e000000000086');
    const { starts, start } = recorder();
    const layered = withArchitectures(
      [
        CONFIGURED[1] as PipelineConfig,
        {
          pipeline: 'app',
          imageDefinition: 'web',
          parent: { pipeline: 'base', channel: 'stable' },
          channel: 'stable',
        },
      ],
      parseArchitectures('base=x86_64+arm64,app=arm64'),
    );
    const before = await startPushBuilds(
      layered,
      { commit: 'c'.repeat(40), repository: 'r' },
      { sources, pointer, start },
    );
    expect(before.find((r) => r.pipeline === 'app')).toEqual({
      pipeline: 'app',
      architecture: 'arm64',
      started: false,
    });
    await pointer.point('base/arm64', 'stable', 'ami-0ba5e000000000064');
    await startPushBuilds(layered, { commit: 'c'.repeat(40), repository: 'r' }, { sources, pointer, start });
    expect(starts.filter((s) => s.input.pipeline === 'app').map((s) => s.sourceImageId)).toEqual([
      'ami-0ba5e000000000064',
    ]);
  });
});
