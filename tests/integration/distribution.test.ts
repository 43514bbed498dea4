/**
 * Issue 10 points 1-3 on the emulator: a pipeline distributed to three regions (the stack's and
 * two others, a customer managed key in each) and shared with two targets (an account and an
 * organizational unit). The Map's handlers copy, wait and share, CheckDistribution decides, and
 * PromoteImage, rollback-channel and ApplyRetention act in every region, each as its packaged
 * role under the IAM evaluation (aws:RequestedRegion included). Then the new calls' denials, and
 * what the emulator refuses as EC2 does.
 */
import {
  CopyImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  EC2Client,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveDistribution } from '#commons/core/distribution.js';
import type { Build } from '#commons/schemas.js';
import { bakeCandidate } from './doubles/packer-bake-double.js';
import { buildDocument } from './fixtures/build.js';
import {
  type AwsSide,
  clientsPerRegion,
  DISTRIBUTION_KEYS,
  DISTRIBUTION_REGIONS,
  DISTRIBUTION_SETTING,
  importHandlers,
  invoke,
  type LambdaHandler,
  nextSecond,
  SETUP_TIMEOUT_MS,
  SHARE_ACCOUNT,
  SHARE_OU,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';
import { TEST_REGION } from './moto.js';

const PREFIX = stackSettings().CHANNEL_PARAMETER_PREFIX;
const REGIONS = [TEST_REGION, ...DISTRIBUTION_REGIONS];
let handlers: Record<string, LambdaHandler<Record<string, unknown>>> = {};
let aws: AwsSide;
/** moto in a region, straight (assertions), or through the proxy without a role (the emulator's refusals). */
const { inRegion, destroy: destroyClients } = clientsPerRegion(
  (config) => ({ ec2: new EC2Client(config), ssm: new SSMClient(config) }),
  () => aws.motoEndpoint,
);

beforeAll(async () => {
  // Keep only the newest image besides a channel's current and previous ones: retention then has
  // an expired image in every region once the clock moves on.
  aws = await startAwsSide({
    env: { DISTRIBUTION: JSON.stringify({ dist: DISTRIBUTION_SETTING }), RETENTION_KEEP_LATEST: '1' },
  });
  handlers = await importHandlers([
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

/** Bake a build of `dist` with the stack region's key (what BakeImage's KMS_KEY_ID gives). */
const bake = async (commit: string) => {
  const build: Build = {
    ...buildDocument({ pipeline: 'dist', commit }),
    distribution: resolveDistribution(DISTRIBUTION_SETTING, TEST_REGION),
  };
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
    const copy = await invoke(
      handlers['copy-image-to-region'] as LambdaHandler<Record<string, unknown>>,
      item,
    );
    const copyCheck = await invoke(handlers['check-region-copy'] as LambdaHandler<Record<string, unknown>>, {
      ...item,
      copy,
    });
    outcomes.push(
      await invoke(handlers['share-region-copy'] as LambdaHandler<Record<string, unknown>>, {
        ...item,
        copy,
        copyCheck,
      }),
    );
  }
  const verdict = await invoke(handlers['check-distribution'] as LambdaHandler<Record<string, unknown>>, {
    build: baked.build,
    regionOutcomes: outcomes,
  });
  return { outcomes, verdict };
};

const pointer = async (region: string) =>
  (await inRegion(region).ssm.send(new GetParameterCommand({ Name: `${PREFIX}/dist/stable` }))).Parameter
    ?.Value;

describe('a pipeline in three regions shared with an account and an OU', () => {
  let first: Awaited<ReturnType<typeof bake>>;
  let second: Awaited<ReturnType<typeof bake>>;
  let firstImages: Record<string, string>;
  let secondImages: Record<string, string>;

  it('copies into each region with the candidate’s tags, its key, once per client token, and shares each copy', async () => {
    first = await bake('d'.repeat(40));

    const { outcomes, verdict } = await distribute(first);

    firstImages = Object.fromEntries(outcomes.map((outcome) => [outcome.region, String(outcome.imageId)]));
    expect(verdict).toMatchObject({ outcome: 'complete', failed: [] });
    expect(firstImages[TEST_REGION]).toBe(first.candidate.imageId);
    for (const region of DISTRIBUTION_REGIONS) {
      const image = (
        await inRegion(region).ec2.send(
          new DescribeImagesCommand({ ImageIds: [firstImages[region] as string] }),
        )
      ).Images?.[0];
      expect(tagsOf(image ?? {})).toMatchObject({
        'factory:pipeline': 'dist',
        'factory:build-id': first.build.buildId,
        'factory:channel': 'candidate',
        'factory:stage': stackSettings().STAGE,
      });
      const snapshotId = image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId as string;
      expect(aws.proxy.snapshotKeys.keyOf(snapshotId)).toBe(DISTRIBUTION_KEYS[region]);
      const { LaunchPermissions } = await inRegion(region).ec2.send(
        new DescribeImageAttributeCommand({
          ImageId: firstImages[region] as string,
          Attribute: 'launchPermission',
        }),
      );
      expect(LaunchPermissions).toEqual(
        expect.arrayContaining([{ UserId: SHARE_ACCOUNT }, { OrganizationalUnitArn: SHARE_OU }]),
      );
      const { CreateVolumePermissions } = await inRegion(region).ec2.send(
        new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' }),
      );
      expect(CreateVolumePermissions).toEqual([{ UserId: SHARE_ACCOUNT }]);
    }
    // A retried CopyImageToRegion (same client token) returns the same copy.
    const target = first.build.distribution?.regions[1];
    const again = await invoke(handlers['copy-image-to-region'] as LambdaHandler<Record<string, unknown>>, {
      build: first.build,
      candidate: first.candidate,
      target,
    });
    expect(again).toMatchObject({ imageId: firstImages[String(target?.region)] });
  });

  it('promotes every region to its own image, each region’s pointer being its own parameter', async () => {
    const { verdict } = await distribute(first);
    const promotion = await invoke(handlers['promote-image'] as LambdaHandler<Record<string, unknown>>, {
      build: first.build,
      candidate: first.candidate,
      distributionVerdict: verdict,
    });

    expect(
      (promotion.regions as Array<{ region: string; imageId: string }>).map((r) => [r.region, r.imageId]),
    ).toEqual(REGIONS.map((region) => [region, firstImages[region]]));
    for (const region of REGIONS) expect(await pointer(region)).toBe(firstImages[region]);
  });

  it('a newer build promotes everywhere; rollback moves every region back together', async () => {
    second = await bake('e'.repeat(40));
    const { outcomes, verdict } = await distribute(second);
    secondImages = Object.fromEntries(outcomes.map((outcome) => [outcome.region, String(outcome.imageId)]));
    await invoke(handlers['promote-image'] as LambdaHandler<Record<string, unknown>>, {
      build: second.build,
      candidate: second.candidate,
      distributionVerdict: verdict,
    });
    for (const region of REGIONS) expect(await pointer(region)).toBe(secondImages[region]);

    const rolledBack = await invoke(handlers['rollback-channel'] as LambdaHandler<Record<string, unknown>>, {
      pipeline: 'dist',
      channel: 'stable',
    });

    expect(rolledBack.imageId).toBe(firstImages[TEST_REGION]);
    for (const region of REGIONS) expect(await pointer(region)).toBe(firstImages[region]);
  });

  it('retention in every region deregisters the expired copies and their snapshots', async () => {
    // The second and third builds' copies must not share a CreationDate second (see nextSecond).
    await nextSecond();
    const third = await bake('f'.repeat(40));
    const { verdict } = await distribute(third);
    const promotion = await invoke(handlers['promote-image'] as LambdaHandler<Record<string, unknown>>, {
      build: third.build,
      candidate: third.candidate,
      distributionVerdict: verdict,
    });
    // 40 days on: the rolled-back second build is expired everywhere (current: third, previous: first).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 40 * 86_400_000 });

    const retention = await invoke(handlers['apply-retention'] as LambdaHandler<Record<string, unknown>>, {
      build: third.build,
      promotion,
      retentionDryRun: false,
    });
    vi.useRealTimers();

    expect(retention.regions).toHaveLength(2);
    for (const region of REGIONS) {
      const { Images } = await inRegion(region).ec2.send(
        new DescribeImagesCommand({ Filters: [{ Name: 'tag:factory:pipeline', Values: ['dist'] }] }),
      );
      const left = (Images ?? []).map((image) => image.ImageId);
      expect(left, region).not.toContain(secondImages[region]);
      expect(left, region).toContain(firstImages[region]);
    }
  });
});

describe('IAM: the new calls are allowed only where they should be', () => {
  /** Evaluated without recording (the file fails on any refused call the handlers made). */
  const deny = async (
    role: string,
    service: string,
    operation: string,
    input: Record<string, unknown>,
    region: string,
  ) => {
    const iam = aws.proxy.iam;
    if (!iam) throw new Error('no IAM evaluation');
    const requests = await iam.requestsFor(service, operation, input, region);
    const decisions = await Promise.all(requests.map((request) => iam.simulate(role, request)));
    return decisions.some((decision) => decision.result !== 'Allowed');
  };

  it.each([
    [
      'CopyImage into a region outside the distribution',
      'DistributeImageRole',
      'ec2',
      'CopyImage',
      'us-west-2',
    ],
    [
      'PutParameter of a pointer outside the distribution',
      'PromoteImageRole',
      'ssm',
      'PutParameter',
      'us-west-2',
    ],
    ['CopyImage by the promotion role', 'PromoteImageRole', 'ec2', 'CopyImage', 'eu-west-1'],
  ])('denies %s', async (_name, role, service, operation, region) => {
    const candidate = (await bake('1'.repeat(40))).candidate;
    const input =
      operation === 'CopyImage'
        ? {
            SourceImageId: candidate.imageId,
            SourceRegion: TEST_REGION,
            Name: 'distribution-test-copy',
            Encrypted: true,
            KmsKeyId: DISTRIBUTION_KEYS['eu-west-1'],
          }
        : { Name: `${PREFIX}/dist/stable`, Value: candidate.imageId };

    expect(await deny(role, service, operation, input, region)).toBe(true);
  });

  it('denies using a KMS key the stack does not name, and sharing an image of no factory pipeline', async () => {
    const foreignKey = 'arn:aws:kms:eu-west-1:999999999999:key/00000009-1111-2222-3333-444444444444';
    const candidate = (await bake('2'.repeat(40))).candidate;

    expect(
      await deny(
        'DistributeImageRole',
        'ec2',
        'CopyImage',
        {
          SourceImageId: candidate.imageId,
          SourceRegion: TEST_REGION,
          Name: 'distribution-test-copy',
          Encrypted: true,
          KmsKeyId: foreignKey,
        },
        'eu-west-1',
      ),
    ).toBe(true);
    const { ImageId } = await aws.ec2.send(
      new CopyImageCommand({ SourceImageId: candidate.imageId, SourceRegion: TEST_REGION, Name: 'untagged' }),
    );
    expect(
      await deny(
        'DistributeImageRole',
        'ec2',
        'ModifyImageAttribute',
        { ImageId, LaunchPermission: { Add: [{ UserId: SHARE_ACCOUNT }] } },
        TEST_REGION,
      ),
    ).toBe(true);
    const snapshotId = candidate.snapshotIds[0] as string;
    expect(
      await deny(
        'PromoteImageRole',
        'ec2',
        'ModifySnapshotAttribute',
        { SnapshotId: snapshotId },
        TEST_REGION,
      ),
    ).toBe(true);
  });
});

describe('the emulator refuses what EC2 refuses', () => {
  it('CopyImage with a KmsKeyId but not Encrypted, or with a key of another region', async () => {
    const candidate = (await bake('3'.repeat(40))).candidate;
    const ec2 = inRegion('eu-west-1', aws.proxy.endpoint).ec2;

    await expect(
      ec2.send(
        new CopyImageCommand({
          SourceImageId: candidate.imageId,
          SourceRegion: TEST_REGION,
          Name: 'distribution-test-copy',
          KmsKeyId: DISTRIBUTION_KEYS['eu-west-1'],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    await expect(
      ec2.send(
        new CopyImageCommand({
          SourceImageId: candidate.imageId,
          SourceRegion: TEST_REGION,
          Name: 'distribution-test-copy',
          Encrypted: true,
          KmsKeyId: DISTRIBUTION_KEYS[TEST_REGION],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('sharing a snapshot encrypted with the default EBS key, or with an invalid account id', async () => {
    const baked = await bakeCandidate(aws.ec2, {
      ...buildDocument({ pipeline: 'dist', commit: '4'.repeat(40) }),
    });
    const ec2 = inRegion(TEST_REGION, aws.proxy.endpoint).ec2;
    const snapshotId = baked.candidate.snapshotIds[0] as string;
    const share = (UserIds: string[]) =>
      ec2.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: snapshotId,
          Attribute: 'createVolumePermission',
          OperationType: 'add',
          UserIds,
        }),
      );

    await expect(share([SHARE_ACCOUNT])).rejects.toMatchObject({ name: 'InvalidParameter' });
    await expect(share(['12345'])).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });
});
