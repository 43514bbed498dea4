/**
 * PrepareBuild and architectures: the build's architecture must be declared for its pipeline, its
 * source AMI is the base image's of that architecture (a given or parent image must be of it), the
 * instance types must run it, and the build sequence is per track. Every refusal takes no build
 * sequence number.
 */
import { describe, expect, it } from 'vitest';
import { parseArchitectures } from '#commons/core/architectures.js';
import { executionName } from '#commons/core/build-key.js';
import { TAG } from '#commons/core/tags.js';
import { InvalidInput, UnusableParentImage } from '#commons/errors.js';
import { PrepareBuildInput } from '#commons/handler-inputs.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryPromotionLedger,
  StaticSources,
} from '../helpers/fakes.js';
import { NOW } from '../helpers/fixtures.js';

const CANONICAL = '099720109477';
const X86 = 'ami-0aaaaaaaaaaaaaaa1';
const ARM = 'ami-0aaaaaaaaaaaaaaa2';
const sources = new StaticSources({
  [X86]: {
    imageId: X86,
    name: 'noble amd64',
    ownerId: CANONICAL,
    baseImage: 'ubuntu-24.04',
    createdAt: '2026-06-01T08:00:00.000Z',
    architecture: 'x86_64',
  },
  [ARM]: {
    imageId: ARM,
    name: 'noble arm64',
    ownerId: CANONICAL,
    baseImage: 'ubuntu-24.04',
    createdAt: '2026-06-02T08:00:00.000Z',
    architecture: 'arm64',
  },
});
const options = {
  probeTimeoutSeconds: 900,
  now: () => NOW,
  architectures: parseArchitectures('web=x86_64+arm64'),
};
const request = (input: Record<string, unknown>) =>
  PrepareBuildInput.parse({ pipeline: 'web', baseImage: 'ubuntu-24.04', ...input });

describe('prepareBuild with architectures', () => {
  it('bakes arm64 from the arm64 source AMI with the arm64 instance types, on its own build sequence', async () => {
    const ledger = new MemoryPromotionLedger();
    const x86 = await prepareBuild(request({}), { sources, ledger }, options);
    const arm = await prepareBuild(request({ architecture: 'arm64' }), { sources, ledger }, options);
    const armAgain = await prepareBuild(request({ architecture: 'arm64' }), { sources, ledger }, options);

    expect(x86).toMatchObject({
      architecture: 'x86_64',
      sourceImageId: X86,
      instanceTypes: { builder: 't3.small', test: 't3.small' },
      order: { sequence: 1 },
    });
    expect(arm).toMatchObject({
      architecture: 'arm64',
      sourceImageId: ARM,
      instanceTypes: { builder: 't4g.small', test: 't4g.small' },
      order: { sourceCreatedAt: '2026-06-02T08:00:00.000Z', sequence: 1 },
      executionName: executionName({
        pipeline: 'web',
        architecture: 'arm64',
        channel: 'stable',
        sourceImageId: ARM,
      }),
    });
    expect(armAgain.order?.sequence).toBe(2);
    expect(Object.fromEntries(ledger.sequences)).toEqual({ web: 1, 'web/arm64': 2 });
  });

  it.each([
    [
      { architecture: 'arm64' },
      { architectures: {} },
      /pipeline web does not build arm64 \(it builds x86_64; declare it/,
    ],
    [
      { architecture: 'arm64', sourceImageId: X86 },
      {},
      /source image ami-0aaaaaaaaaaaaaaa1 is x86_64, but the build is arm64/,
    ],
    [{ sourceImageId: ARM }, {}, /source image ami-0aaaaaaaaaaaaaaa2 is arm64, but the build is x86_64/],
    [
      { architecture: 'arm64' },
      {
        instanceTypes: {
          x86_64: { builder: 't3.small', test: 't3.small' },
          arm64: { builder: 'c7i.large', test: 't4g.micro' },
        },
      },
      /builder instance type c7i\.large runs x86_64, but the build is arm64/,
    ],
    [
      {},
      {
        instanceTypes: {
          x86_64: { builder: 't3.small', test: 't4g.small' },
          arm64: { builder: 'c7g.large', test: 't4g.micro' },
        },
      },
      /test instance type t4g\.small runs arm64, but the build is x86_64/,
    ],
  ])('refuses %j with %j: %s, and takes no sequence number', async (input, extra, message) => {
    const ledger = new MemoryPromotionLedger();
    const attempt = prepareBuild(request(input), { sources, ledger }, { ...options, ...extra });
    await expect(attempt).rejects.toThrow(InvalidInput);
    await expect(prepareBuild(request(input), { sources, ledger }, { ...options, ...extra })).rejects.toThrow(
      message,
    );
    expect(ledger.sequences.size).toBe(0);
  });

  it("a layered arm64 build bakes from the parent's arm64 channel, and refuses an image of another architecture there", async () => {
    const parentImage = (imageId: string, architecture: string) => ({
      imageId,
      name: `base-${architecture}`,
      createdAt: '2026-06-20T10:00:00.000Z',
      architecture,
      tags: {
        [TAG.pipeline]: 'base',
        [TAG.channel]: 'stable',
        [TAG.baseImage]: 'ubuntu-24.04',
        [TAG.buildId]: 'base-0123456789ab',
      },
      snapshotIds: [],
    });
    const pointer = new MemoryChannelPointer();
    await pointer.point('base', 'stable', 'ami-0ba5e000000000086');
    await pointer.point('base/arm64', 'stable', 'ami-0ba5e000000000064');
    const images = new MemoryImageStore([
      parentImage('ami-0ba5e000000000086', 'x86_64'),
      parentImage('ami-0ba5e000000000064', 'arm64'),
    ]);
    const ledger = new MemoryPromotionLedger();
    const input = PrepareBuildInput.parse({
      pipeline: 'web',
      parent: { pipeline: 'base' },
      architecture: 'arm64',
    });

    const build = await prepareBuild(input, { sources, ledger, parents: { pointer, images } }, options);
    expect(build).toMatchObject({ architecture: 'arm64', sourceImageId: 'ami-0ba5e000000000064' });

    // The arm64 channel names an x86_64 image: refused.
    await pointer.point('base/arm64', 'stable', 'ami-0ba5e000000000086');
    await expect(
      prepareBuild(input, { sources, ledger, parents: { pointer, images } }, options),
    ).rejects.toThrow(UnusableParentImage);
  });
});
