/**
 * Issue 10 point 4 on the emulator: one pipeline (`multi`) that builds x86_64 and arm64, distributed
 * to three regions (a customer managed key each) and shared with an account and an OU. Per
 * architecture: PrepareBuild resolves the vendor's public parameter of that architecture (and
 * refuses what does not match), the bake double registers the AMI as Packer would, LaunchTestInstance
 * runs the architecture's test instance type, the DistributeImage Map's handlers copy and share,
 * PromoteImage, rollback-channel and ApplyRetention act in every region, each handler as its
 * packaged role under the IAM evaluation. The two architectures never touch each other: each has
 * its own pointer (`<prefix>/multi/stable` and `<prefix>/multi/arm64/stable`), its own rollback and
 * its own retention.
 */
import { DescribeImagesCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import type { Build } from '#commons/schemas.js';
import { bakeCandidate } from './doubles/packer-bake-double.js';
import { PUBLISHED, PUBLISHED_ARM64 } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  clientsPerRegion,
  DISTRIBUTION_REGIONS,
  DISTRIBUTION_SETTING,
  importHandlers,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  nextSecond,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';
import { TEST_REGION } from './moto.js';

const PREFIX = stackSettings().CHANNEL_PARAMETER_PREFIX;
const REGIONS = [TEST_REGION, ...DISTRIBUTION_REGIONS];
const ARCHITECTURES = ['x86_64', 'arm64'] as const;
type Arch = (typeof ARCHITECTURES)[number];
const VENDOR: Record<Arch, string> = {
  x86_64: PUBLISHED['ubuntu-24.04'].current.imageId,
  arm64: PUBLISHED_ARM64.current.imageId,
};
const POINTER: Record<Arch, string> = {
  x86_64: `${PREFIX}/multi/stable`,
  arm64: `${PREFIX}/multi/arm64/stable`,
};

let handlers: Record<string, LambdaHandler<Record<string, unknown>>> = {};
const handler = (key: string) => handlers[key] as LambdaHandler<Record<string, unknown>>;
let aws: AwsSide;
const { inRegion, destroy: destroyClients } = clientsPerRegion(
  (config) => ({ ec2: new EC2Client(config), ssm: new SSMClient(config) }),
  () => aws.motoEndpoint,
);

beforeAll(async () => {
  aws = await startAwsSide({
    env: {
      DISTRIBUTION: JSON.stringify({ multi: DISTRIBUTION_SETTING }),
      ARCHITECTURES: 'multi=x86_64+arm64',
      BUILDER_INSTANCE_TYPE_ARM64: 'c7g.large',
      TEST_INSTANCE_TYPE_ARM64: 't4g.micro',
      RETENTION_KEEP_LATEST: '1',
    },
  });
  aws.proxy.publicParameters.publish(BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64, VENDOR.x86_64);
  aws.proxy.publicParameters.publish(BASE_IMAGES['ubuntu-24.04'].ssmParameters.arm64, VENDOR.arm64);
  handlers = await importHandlers([
    'prepare-build',
    'launch-test-instance',
    'copy-image-to-region',
    'check-region-copy',
    'share-region-copy',
    'check-distribution',
    'promote-image',
    'rollback-channel',
    'apply-retention',
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  vi.useRealTimers();
  destroyClients();
  await aws?.close();
});

/** PrepareBuild (as its role) for `architecture`, then the bake double registers the candidate. */
const bake = async (architecture: Arch, commit: string) => {
  const build = (await invoke(handler('prepare-build'), {
    pipeline: 'multi',
    baseImage: 'ubuntu-24.04',
    imageDefinition: 'web',
    ...(architecture === 'x86_64' ? {} : { architecture }),
    commit,
    repository: aws.git.url,
  })) as unknown as Build;
  const baked = await bakeCandidate(aws.ec2, build);
  for (const snapshotId of baked.candidate.snapshotIds)
    aws.proxy.snapshotKeys.record(snapshotId, build.distribution?.bakeKmsKeyId);
  return { build, candidate: baked.candidate };
};

/** The DistributeImage Map, one region after the other, and CheckDistribution. */
const distribute = async (baked: Awaited<ReturnType<typeof bake>>) => {
  const outcomes: Array<Record<string, unknown>> = [];
  for (const target of baked.build.distribution?.regions ?? []) {
    const item = { build: baked.build, candidate: baked.candidate, target };
    const copy = await invoke(handler('copy-image-to-region'), item);
    const copyCheck = await invoke(handler('check-region-copy'), { ...item, copy });
    outcomes.push(await invoke(handler('share-region-copy'), { ...item, copy, copyCheck }));
  }
  const verdict = await invoke(handler('check-distribution'), {
    build: baked.build,
    regionOutcomes: outcomes,
  });
  const images = Object.fromEntries(
    outcomes.map((outcome) => [String(outcome.region), String(outcome.imageId)]),
  );
  return { verdict, images };
};

/** Bake, distribute and promote one build of `architecture`; its image per region. */
const release = async (architecture: Arch, commit: string) => {
  const baked = await bake(architecture, commit);
  const { verdict, images } = await distribute(baked);
  const promotion = await invoke(handler('promote-image'), {
    build: baked.build,
    candidate: baked.candidate,
    distributionVerdict: verdict,
  });
  return { ...baked, images, promotion };
};

const pointer = async (region: string, architecture: Arch) =>
  (await inRegion(region).ssm.send(new GetParameterCommand({ Name: POINTER[architecture] }))).Parameter
    ?.Value;

const imagesLeft = async (region: string): Promise<string[]> =>
  (
    (
      await inRegion(region).ec2.send(
        new DescribeImagesCommand({ Filters: [{ Name: 'tag:factory:pipeline', Values: ['multi'] }] }),
      )
    ).Images ?? []
  ).map((image) => image.ImageId as string);

/** The candidates of the first tests, never promoted: expired candidates once the clock moves. */
const strays = {} as Record<Arch, string>;

describe('PrepareBuild per architecture', () => {
  it.each(ARCHITECTURES)(
    '%s: the vendor parameter of the architecture, its instance types',
    async (architecture) => {
      const { build, candidate } = await bake(architecture, '1'.repeat(40));
      strays[architecture] = candidate.imageId;
      expect(build).toMatchObject({
        architecture,
        sourceImageId: VENDOR[architecture],
        instanceTypes:
          architecture === 'arm64'
            ? { builder: 'c7g.large', test: 't4g.micro' }
            : { builder: 't3.small', test: 't3.small' },
      });
      expect(
        build.executionName.startsWith(architecture === 'arm64' ? 'multi-arm64-stable-' : 'multi-stable-'),
      ).toBe(true);
    },
  );

  it('refuses an architecture the pipeline does not declare, and a source AMI of the other architecture', async () => {
    await expect(
      invokeExpectingError(handler('prepare-build'), {
        pipeline: 'web',
        baseImage: 'ubuntu-24.04',
        architecture: 'arm64',
      }),
    ).resolves.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('pipeline web does not build arm64'),
    });
    await expect(
      invokeExpectingError(handler('prepare-build'), {
        pipeline: 'multi',
        baseImage: 'ubuntu-24.04',
        imageDefinition: 'web',
        architecture: 'arm64',
        sourceImageId: VENDOR.x86_64,
      }),
    ).resolves.toMatchObject({ message: expect.stringContaining('is x86_64, but the build is arm64') });
  });

  it('launches the arm64 test instance on the arm64 instance type, tagged with the architecture', async () => {
    const { build, candidate } = await bake('arm64', '2'.repeat(40));
    const { instanceId } = (await invoke(handler('launch-test-instance'), { build, candidate })) as {
      instanceId: string;
    };
    const instance = (await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })))
      .Reservations?.[0]?.Instances?.[0];
    expect(instance?.InstanceType).toBe('t4g.micro');
    expect(tagsOf(instance ?? {})).toMatchObject({
      'factory:pipeline': 'multi',
      'factory:architecture': 'arm64',
    });
  });
});

describe('one pipeline, two architectures, three regions, two share targets', () => {
  const first = {} as Record<Arch, Awaited<ReturnType<typeof release>>>;
  const second = {} as Record<Arch, Awaited<ReturnType<typeof release>>>;

  it('bakes, copies, shares and promotes each architecture to its own pointer in every region', async () => {
    for (const architecture of ARCHITECTURES)
      first[architecture] = await release(architecture, 'a'.repeat(40));

    for (const architecture of ARCHITECTURES) {
      expect(first[architecture].promotion).toMatchObject({
        outcome: 'promoted',
        parameterName: POINTER[architecture],
      });
      for (const region of REGIONS) {
        expect(await pointer(region, architecture), `${region} ${architecture}`).toBe(
          first[architecture].images[region],
        );
        const image = (
          await inRegion(region).ec2.send(
            new DescribeImagesCommand({ ImageIds: [first[architecture].images[region] as string] }),
          )
        ).Images?.[0];
        // Copies keep the candidate's tags: the architecture travels with them.
        expect(tagsOf(image ?? {})).toMatchObject({
          'factory:architecture': architecture,
          'factory:channel': 'stable',
        });
      }
    }
    expect(new Set(REGIONS.flatMap((region) => ARCHITECTURES.map((a) => first[a].images[region]))).size).toBe(
      6,
    );
  });

  it('a newer build of each promotes; rolling back arm64 leaves x86_64 where it is', async () => {
    for (const architecture of ARCHITECTURES)
      second[architecture] = await release(architecture, 'b'.repeat(40));
    for (const region of REGIONS)
      for (const architecture of ARCHITECTURES)
        expect(await pointer(region, architecture)).toBe(second[architecture].images[region]);

    const rolledBack = await invoke(handler('rollback-channel'), {
      pipeline: 'multi',
      architecture: 'arm64',
      channel: 'stable',
    });

    expect(rolledBack).toMatchObject({ architecture: 'arm64', imageId: first.arm64.images[TEST_REGION] });
    for (const region of REGIONS) {
      expect(await pointer(region, 'arm64')).toBe(first.arm64.images[region]);
      expect(await pointer(region, 'x86_64')).toBe(second.x86_64.images[region]);
    }
    // An x86_64 image is not an arm64 rollback target.
    await expect(
      invokeExpectingError(handler('rollback-channel'), {
        pipeline: 'multi',
        architecture: 'arm64',
        channel: 'stable',
        imageId: first.x86_64.images[TEST_REGION],
      }),
    ).resolves.toMatchObject({
      message: expect.stringContaining('is not an available arm64 image of pipeline multi'),
    });
  });

  it('retention of one architecture deregisters only its own expired images, in every region', async () => {
    // The second and third builds must not share a CreationDate second (see nextSecond).
    await nextSecond();
    const third = await release('arm64', 'c'.repeat(40));
    // 40 days on: arm64's rolled-back second build is expired (current: third, previous: first),
    // and so is each architecture's never-promoted candidate of the first tests.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 40 * 86_400_000 });
    const armRetention = await invoke(handler('apply-retention'), {
      build: third.build,
      promotion: third.promotion,
      retentionDryRun: false,
    });
    vi.useRealTimers();

    expect(armRetention.regions).toHaveLength(2);
    for (const region of REGIONS) {
      const left = await imagesLeft(region);
      expect(left, region).not.toContain(second.arm64.images[region]);
      expect(left, region).toContain(first.arm64.images[region]);
      expect(left, region).toContain(third.images[region]);
      // Not one x86_64 image, expired or not, was touched by the arm64 run.
      expect(left, region).toContain(first.x86_64.images[region]);
      expect(left, region).toContain(second.x86_64.images[region]);
    }
    expect(await imagesLeft(TEST_REGION)).not.toContain(strays.arm64);
    expect(await imagesLeft(TEST_REGION)).toContain(strays.x86_64);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 40 * 86_400_000 });
    await invoke(handler('apply-retention'), {
      build: second.x86_64.build,
      promotion: second.x86_64.promotion,
      retentionDryRun: false,
    });
    vi.useRealTimers();
    // x86_64's expired candidate goes; its current and previous image and every arm64 image stay.
    expect(await imagesLeft(TEST_REGION)).not.toContain(strays.x86_64);
    for (const region of REGIONS) {
      const left = await imagesLeft(region);
      expect(left, region).toContain(second.x86_64.images[region]);
      expect(left, region).toContain(first.x86_64.images[region]);
      expect(left, region).toContain(first.arm64.images[region]);
      expect(left, region).toContain(third.images[region]);
    }
  });
});
