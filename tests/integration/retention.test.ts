/**
 * ApplyRetention against moto with a catalog of images of chosen ages.
 *
 * moto stamps `CreationDate` with "now" on every API path, so the aged catalog is seeded through
 * `MOTO_AMIS_PATH` (MOTO-GAPS.md) on a moto server of this file's own. Each seeded image comes with
 * the EBS snapshot moto creates for it. Expected: exactly the expired, unprotected images of the
 * pipeline are deregistered and their snapshots deleted; current and previous images of every
 * channel (from the pointers and their history), promoted, protected, in-use, referenced by a
 * parameter, shared, newest, foreign and other pipelines' images are untouched.
 */
import {
  CreateLaunchTemplateCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  ModifyImageAttributeCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocument } from './fixtures/build.js';
import { amiId, FOREIGN_ACCOUNT_ID, vendorImages } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  existingSnapshotIds,
  findImage,
  importHandler,
  invoke,
  type LambdaHandler,
  ownImages,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
} from './harness.js';
import { MOTO_ACCOUNT_ID, type MotoServer, type SeedImage, startMotoServer } from './moto.js';

const DAY_MS = 86_400_000;
/** Whole seconds: moto keeps `CreationDate` to the second. */
const NOW = Math.floor(Date.now() / 1000) * 1000;
const PREFIX = stackSettings().CHANNEL_PARAMETER_PREFIX;

type Expectation = 'deregistered' | 'kept' | 'untouched';

interface CatalogEntry {
  key: string;
  ageDays: number;
  tags: Record<string, string>;
  ownerId?: string;
  /** What retention must do: deregister, keep (with reason), or not even consider (foreign). */
  expect: Expectation;
  reason?: string;
}

/** pipeline `web`, RETENTION_MAX_AGE_DAYS=30, RETENTION_KEEP_LATEST=2. */
const CATALOG: CatalogEntry[] = [
  { key: 'newest', ageDays: 1, tags: { 'factory:channel': 'candidate' }, expect: 'kept', reason: 'newest' },
  {
    key: 'second-newest',
    ageDays: 2,
    tags: { 'factory:channel': 'retired' },
    expect: 'kept',
    reason: 'newest',
  },
  { key: 'young', ageDays: 10, tags: { 'factory:channel': 'retired' }, expect: 'kept', reason: 'within-age' },
  {
    key: 'at-limit',
    ageDays: 29.99,
    tags: { 'factory:channel': 'retired' },
    expect: 'kept',
    reason: 'within-age',
  },
  { key: 'current', ageDays: 60, tags: { 'factory:channel': 'stable' }, expect: 'kept', reason: 'promoted' },
  {
    key: 'previous',
    ageDays: 70,
    tags: { 'factory:channel': 'previous-stable' },
    expect: 'kept',
    reason: 'promoted',
  },
  { key: 'beta', ageDays: 75, tags: { 'factory:channel': 'beta' }, expect: 'kept', reason: 'promoted' },
  {
    key: 'pointed',
    ageDays: 200,
    tags: { 'factory:channel': 'retired' },
    expect: 'kept',
    reason: 'current',
  },
  // Channel `canary` is not the build's channel: only its pointer and history name these two.
  {
    key: 'canary-now',
    ageDays: 120,
    tags: { 'factory:channel': 'retired' },
    expect: 'kept',
    reason: 'current',
  },
  {
    key: 'canary-before',
    ageDays: 130,
    tags: { 'factory:channel': 'retired' },
    expect: 'kept',
    reason: 'previous',
  },
  {
    key: 'canary-long-ago',
    ageDays: 140,
    tags: { 'factory:channel': 'retired' },
    expect: 'deregistered',
  },
  {
    key: 'in-parameter',
    ageDays: 150,
    tags: { 'factory:channel': 'retired' },
    expect: 'kept',
    reason: 'referenced',
  },
  { key: 'shared', ageDays: 160, tags: { 'factory:channel': 'retired' }, expect: 'kept', reason: 'shared' },
  {
    key: 'protected',
    ageDays: 90,
    tags: { 'factory:channel': 'retired', 'factory:protected': 'true' },
    expect: 'kept',
    reason: 'protected',
  },
  { key: 'in-use', ageDays: 80, tags: { 'factory:channel': 'retired' }, expect: 'kept', reason: 'in-use' },
  {
    key: 'in-template',
    ageDays: 85,
    tags: { 'factory:channel': 'retired' },
    expect: 'kept',
    reason: 'in-use',
  },
  { key: 'expired-retired', ageDays: 40, tags: { 'factory:channel': 'retired' }, expect: 'deregistered' },
  {
    key: 'expired-rolled-back',
    ageDays: 100,
    tags: { 'factory:channel': 'rolled-back' },
    expect: 'deregistered',
  },
  { key: 'expired-candidate', ageDays: 31, tags: { 'factory:channel': 'candidate' }, expect: 'deregistered' },
  {
    key: 'other-pipeline',
    ageDays: 300,
    tags: { 'factory:pipeline': 'api', 'factory:channel': 'retired' },
    expect: 'untouched',
  },
  { key: 'untagged', ageDays: 300, tags: {}, expect: 'untouched' },
  // Another stage's expired image of the same pipeline (stage isolation).
  {
    key: 'other-stage',
    ageDays: 300,
    tags: { 'factory:stage': 'prod', 'factory:channel': 'retired' },
    expect: 'untouched',
  },
  // Pipeline `faulty`: its two expired images are the subject of the fault test.
  {
    key: 'faulty-new',
    ageDays: 1,
    tags: { 'factory:pipeline': 'faulty', 'factory:channel': 'retired' },
    expect: 'untouched',
  },
  {
    key: 'faulty-new2',
    ageDays: 2,
    tags: { 'factory:pipeline': 'faulty', 'factory:channel': 'retired' },
    expect: 'untouched',
  },
  {
    key: 'faulty-old',
    ageDays: 40,
    tags: { 'factory:pipeline': 'faulty', 'factory:channel': 'retired' },
    expect: 'untouched',
  },
  {
    key: 'faulty-old2',
    ageDays: 50,
    tags: { 'factory:pipeline': 'faulty', 'factory:channel': 'retired' },
    expect: 'untouched',
  },
  {
    key: 'foreign-owner',
    ageDays: 300,
    tags: { 'factory:channel': 'retired' },
    ownerId: FOREIGN_ACCOUNT_ID,
    expect: 'untouched',
  },
];

const imageIdOf = new Map(CATALOG.map((entry, index) => [entry.key, amiId(0x7e7e0, index + 1)]));
const id = (key: string): string => imageIdOf.get(key) ?? '';

const seedImages = (): SeedImage[] =>
  CATALOG.map((entry) => ({
    imageId: id(entry.key),
    name: `web-${entry.key}`,
    ownerId: entry.ownerId ?? MOTO_ACCOUNT_ID,
    createdAt: new Date(NOW - entry.ageDays * DAY_MS).toISOString().replace(/\.\d{3}Z$/, '.000Z'),
    tags:
      entry.key === 'untagged'
        ? {}
        : {
            'factory:stage': stackSettings().STAGE,
            'factory:pipeline': 'web',
            'factory:build-id': `web-${entry.key}`,
            ...entry.tags,
          },
  }));

let moto: MotoServer;
let aws: AwsSide;
let applyRetention: LambdaHandler<{
  dryRun: boolean;
  outcome: string;
  omitted: number;
  outcomes: Array<Record<string, unknown>>;
}>;
let snapshotOf: Map<string, string>;

const input = (extra: Record<string, unknown> = {}) => ({
  build: buildDocument({ pipeline: 'web' }),
  promotion: {
    channel: 'stable',
    imageId: id('current'),
    previousImageId: id('previous'),
    parameterName: `${PREFIX}/web/stable`,
    parameterVersion: 7,
  },
  ...extra,
});

beforeAll(async () => {
  moto = await startMotoServer({ images: [...vendorImages(), ...seedImages()] });
  aws = await startAwsSide({
    motoEndpoint: moto.endpoint,
    env: {
      CHANNEL_PARAMETER_PREFIX: PREFIX,
      RETENTION_MAX_AGE_DAYS: '30',
      RETENTION_KEEP_LATEST: '2',
      RETENTION_DRY_RUN: 'false',
    },
  });
  // The channel pointer names an image whose tag says retired (e.g. a manual pointer move).
  await aws.ssm.send(
    new PutParameterCommand({
      Name: `${PREFIX}/web/stable`,
      Value: id('pointed'),
      Type: 'String',
      DataType: 'aws:ec2:image',
    }),
  );
  // Channel `canary` went long-ago → before → now; a team parameter names the in-parameter image;
  // the shared image may be launched by another account.
  for (const key of ['canary-long-ago', 'canary-before', 'canary-now']) {
    await aws.ssm.send(
      new PutParameterCommand({
        Name: `${PREFIX}/web/canary`,
        Value: id(key),
        Type: 'String',
        DataType: 'aws:ec2:image',
        Overwrite: true,
      }),
    );
  }
  await aws.ssm.send(
    new PutParameterCommand({ Name: '/team/fleet/ami', Value: id('in-parameter'), Type: 'String' }),
  );
  await aws.ec2.send(
    new ModifyImageAttributeCommand({
      ImageId: id('shared'),
      LaunchPermission: { Add: [{ UserId: FOREIGN_ACCOUNT_ID }] },
    }),
  );
  // An instance still runs the in-use image; a launch template still names the in-template image.
  await aws.ec2.send(new RunInstancesCommand({ ImageId: id('in-use'), MinCount: 1, MaxCount: 1 }));
  await aws.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'web-fleet',
      LaunchTemplateData: { ImageId: id('in-template'), InstanceType: 't3.small' },
    }),
  );
  const { Images } = await aws.ec2.send(
    new DescribeImagesCommand({ ImageIds: CATALOG.map((entry) => id(entry.key)) }),
  );
  snapshotOf = new Map(
    (Images ?? []).map((image) => [
      image.ImageId ?? '',
      image.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '',
    ]),
  );
  expect(snapshotOf.size).toBe(CATALOG.length);
  // Packer tags the snapshot behind an AMI like the AMI (snapshot_tags = tags); moto's seeded
  // images come with untagged snapshots, so tag them the same way.
  for (const image of Images ?? []) {
    const snapshotId = image.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId;
    if (snapshotId && (image.Tags ?? []).length > 0) {
      await aws.ec2.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: image.Tags }));
    }
  }
  applyRetention = await importHandler('apply-retention');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await aws?.close();
  await moto?.stop();
});

describe('ApplyRetention', () => {
  it('in dry run plans the expired images and changes nothing', async () => {
    // Prepare
    const before = (await ownImages(aws.ec2)).length;

    // Act
    const result = await invoke(applyRetention, input({ retentionDryRun: true }));

    // Assess
    const planned = result.outcomes.filter((o) => o.outcome === 'planned').map((o) => o.imageId);
    expect(result.dryRun).toBe(true);
    expect(planned.sort()).toEqual(
      CATALOG.filter((e) => e.expect === 'deregistered')
        .map((e) => id(e.key))
        .sort(),
    );
    expect((await ownImages(aws.ec2)).length).toBe(before);
  });

  it('deregisters exactly the expired images of the pipeline and deletes their snapshots', async () => {
    // Act
    const result = await invoke(applyRetention, input());

    // Assess: the report
    expect(result).toMatchObject({ outcome: 'complete', omitted: 0 });
    const byId = new Map(result.outcomes.map((o) => [o.imageId, o]));
    for (const entry of CATALOG) {
      const outcome = byId.get(id(entry.key));
      if (entry.expect === 'untouched') expect(outcome, entry.key).toBeUndefined();
      if (entry.expect === 'kept')
        expect(outcome, entry.key).toMatchObject({ outcome: 'kept', reason: entry.reason });
      if (entry.expect === 'deregistered') {
        expect(outcome, entry.key).toMatchObject({
          outcome: 'deregistered',
          reason: 'expired',
          snapshots: [{ snapshotId: snapshotOf.get(id(entry.key)), outcome: 'deleted' }],
        });
      }
    }

    // Assess: the port asked EC2 to delete the snapshots with the deregistration (answered by the
    // DeregisterWithSnapshotsDouble, since moto ignores the flag)
    const deregistrations = aws.proxy.operations.filter((o) => o.operation === 'DeregisterImage');
    expect(deregistrations).toHaveLength(CATALOG.filter((e) => e.expect === 'deregistered').length);
    for (const call of deregistrations) {
      expect(call).toMatchObject({ input: { DeleteAssociatedSnapshots: 'true' }, answeredBy: 'double' });
    }

    // Assess: the emulator
    const snapshots = await existingSnapshotIds(aws.ec2);
    for (const entry of CATALOG) {
      const image = await findImage(aws.ec2, id(entry.key));
      const snapshot = snapshotOf.get(id(entry.key)) ?? '';
      if (entry.expect === 'deregistered') {
        expect(image, entry.key).toBeUndefined();
        expect(snapshots.has(snapshot), `${entry.key} snapshot`).toBe(false);
      } else {
        expect(image?.ImageId, entry.key).toBe(id(entry.key));
        expect(snapshots.has(snapshot), `${entry.key} snapshot`).toBe(true);
      }
    }
    for (const vendor of vendorImages())
      expect((await findImage(aws.ec2, vendor.imageId))?.ImageId).toBe(vendor.imageId);
  });

  it('is idempotent: a second run deregisters nothing more', async () => {
    // Prepare
    const before = (await ownImages(aws.ec2)).map((i) => i.ImageId).sort();

    // Act
    const result = await invoke(applyRetention, input());

    // Assess
    expect(result.outcomes.filter((o) => o.outcome !== 'kept')).toEqual([]);
    expect((await ownImages(aws.ec2)).map((i) => i.ImageId).sort()).toEqual(before);
  });

  it('reports a failed deregistration in its outcome and goes on with the others', async () => {
    // Prepare
    aws.proxy.faults.add({
      service: 'ec2',
      operation: 'DeregisterImage',
      when: (request) => request.ImageId === id('faulty-old'),
      status: 403,
      code: 'UnauthorizedOperation',
    });
    const build = buildDocument({ pipeline: 'faulty' });

    // Act
    const result = await invoke(applyRetention, { build });

    // Assess
    const byId = new Map(result.outcomes.map((o) => [o.imageId, o]));
    expect(byId.get(id('faulty-old'))).toMatchObject({
      outcome: 'failed',
      error: expect.stringContaining('UnauthorizedOperation'),
    });
    expect(byId.get(id('faulty-old2'))).toMatchObject({ outcome: 'deregistered' });
    expect(await findImage(aws.ec2, id('faulty-old'))).toBeDefined();
    expect(await findImage(aws.ec2, id('faulty-old2'))).toBeUndefined();
    expect(await findImage(aws.ec2, id('faulty-new'))).toBeDefined();
  });
});
