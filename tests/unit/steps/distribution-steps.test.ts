/**
 * The distribution steps and the per-region promotion, rollback, retention and cleanup, against
 * in-memory ports: one image store, pointer and event log per region.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { CopyRequest, ImageDistributor, RegionalPorts } from '#commons/ports.js';
import type { Build } from '#commons/schemas.js';
import { applyRetentionInRegions } from '#commons/steps/apply-retention.js';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import {
  checkDistribution,
  checkRegionCopy,
  copyImageToRegion,
  shareRegionCopy,
} from '#commons/steps/distribute-image.js';
import { promoteImageInRegions } from '#commons/steps/promote-image.js';
import { rollbackChannel } from '#commons/steps/rollback-channel.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryLauncher,
  MemoryPromotionLedger,
  RecordingEventPublisher,
} from '../helpers/fakes.js';
import { BUILD, CANDIDATE, imageRecord, NOW } from '../helpers/fixtures.js';

const HOME = 'us-east-1';
const REGIONS = [HOME, 'eu-west-1', 'ap-southeast-2'];
const DISTRIBUTED: Build = {
  ...BUILD,
  distribution: {
    regions: REGIONS.map((region) => ({ region, home: region === HOME, kmsKeyId: `key-${region}` })),
    shareWith: { accounts: ['444455556666'], organizations: [], organizationalUnits: ['ou-arn'] },
    onRegionFailure: 'promote-none',
    bakeKmsKeyId: `key-${HOME}`,
  },
};

class RecordingDistributor implements ImageDistributor {
  readonly copies: CopyRequest[] = [];
  readonly shares: Array<{ region: string; imageId: string; snapshotIds: readonly string[] }> = [];
  state = 'available';
  async copy(request: CopyRequest) {
    this.copies.push(request);
    return { imageId: `ami-copy-${request.region}` };
  }
  async describe(_region: string, imageId: string) {
    return { state: this.state, snapshotIds: [imageId.replace('ami-', 'snap-')] };
  }
  async share(region: string, imageId: string, snapshotIds: readonly string[]) {
    this.shares.push({ region, imageId, snapshotIds });
  }
}

/** One store, pointer and event log per region. */
const regions = () => {
  const stores = new Map(REGIONS.map((region) => [region, new MemoryImageStore()]));
  const pointers = new Map(REGIONS.map((region) => [region, new MemoryChannelPointer()]));
  const events = new Map(REGIONS.map((region) => [region, new RecordingEventPublisher()]));
  const ports: RegionalPorts = {
    images: (region) => stores.get(region) as MemoryImageStore,
    pointer: (region) => pointers.get(region) as MemoryChannelPointer,
    events: (region) => events.get(region) as RecordingEventPublisher,
  };
  return { stores, pointers, events, ports };
};

describe('DistributeImage steps', () => {
  it('CopyImageToRegion: the candidate itself at home, a CopyImage with the region key and a retry-safe token elsewhere', async () => {
    const distributor = new RecordingDistributor();
    const [home, other] = DISTRIBUTED.distribution?.regions ?? [];

    await expect(
      copyImageToRegion({ build: DISTRIBUTED, candidate: CANDIDATE, target: home as never }, { distributor }),
    ).resolves.toEqual({ region: HOME, imageId: CANDIDATE.imageId, copied: false });
    await expect(
      copyImageToRegion(
        { build: DISTRIBUTED, candidate: CANDIDATE, target: other as never },
        { distributor },
      ),
    ).resolves.toEqual({ region: 'eu-west-1', imageId: 'ami-copy-eu-west-1', copied: true });
    expect(distributor.copies).toEqual([
      {
        sourceImageId: CANDIDATE.imageId,
        sourceRegion: HOME,
        region: 'eu-west-1',
        name: CANDIDATE.name,
        kmsKeyId: 'key-eu-west-1',
        clientToken: `${BUILD.buildId}.eu-west-1`,
        snapshotTags: {
          'factory:pipeline': 'web',
          'factory:build-id': BUILD.buildId,
          'factory:channel': 'candidate',
        },
      },
    ]);
  });

  it('CheckRegionCopy counts attempts and refuses a copy that failed', async () => {
    const distributor = new RecordingDistributor();
    const copy = { region: 'eu-west-1', imageId: 'ami-copy-eu-west-1', copied: true };
    distributor.state = 'pending';

    const first = await checkRegionCopy({ copy }, { distributor });
    expect(first).toEqual({
      available: false,
      attempt: 1,
      state: 'pending',
      snapshotIds: ['snap-copy-eu-west-1'],
    });
    distributor.state = 'available';
    await expect(checkRegionCopy({ copy, copyCheck: first }, { distributor })).resolves.toMatchObject({
      available: true,
      attempt: 2,
    });
    distributor.state = 'failed';
    await expect(checkRegionCopy({ copy, copyCheck: first }, { distributor })).rejects.toMatchObject({
      name: 'RegionCopyFailed',
      message: 'copy ami-copy-eu-west-1 in eu-west-1: image state failed',
    });
  });

  it('ShareRegionCopy shares the image and its snapshots with the targets; with none it calls nothing', async () => {
    const distributor = new RecordingDistributor();
    const copy = { region: 'eu-west-1', imageId: 'ami-copy-eu-west-1', copied: true };
    const copyCheck = { available: true, attempt: 2, state: 'available', snapshotIds: ['snap-1'] };

    await expect(shareRegionCopy({ build: DISTRIBUTED, copy, copyCheck }, { distributor })).resolves.toEqual({
      region: 'eu-west-1',
      outcome: 'distributed',
      imageId: 'ami-copy-eu-west-1',
      snapshotIds: ['snap-1'],
    });
    const alone = {
      ...DISTRIBUTED,
      distribution: {
        ...(DISTRIBUTED.distribution as NonNullable<Build['distribution']>),
        shareWith: { accounts: [], organizations: [], organizationalUnits: [] },
      },
    };
    await shareRegionCopy({ build: alone, copy, copyCheck }, { distributor });
    expect(distributor.shares).toEqual([
      { region: 'eu-west-1', imageId: 'ami-copy-eu-west-1', snapshotIds: ['snap-1'] },
    ]);
  });

  it('CheckDistribution throws DistributionFailed under promote-none when a region failed', async () => {
    await expect(
      checkDistribution({
        build: DISTRIBUTED,
        regionOutcomes: [
          { region: HOME, outcome: 'distributed', imageId: CANDIDATE.imageId, snapshotIds: [] },
          { region: 'eu-west-1', outcome: 'failed', error: { Error: 'UnauthorizedOperation' } },
          {
            region: 'ap-southeast-2',
            outcome: 'distributed',
            imageId: 'ami-0aaaaaaaaaaaaaaa3',
            snapshotIds: [],
          },
        ],
      }),
    ).rejects.toMatchObject({
      name: 'DistributionFailed',
      message: expect.stringContaining('eu-west-1 (UnauthorizedOperation)'),
    });
  });
});

describe('per-region promotion, rollback, retention and cleanup', () => {
  let world: ReturnType<typeof regions>;
  /** A build's image in every region: the candidate at home, a copy elsewhere (copied tags). */
  const bake = (buildId: string, ageDays: number, order: number) => {
    for (const region of REGIONS) {
      const id = `ami-${region === HOME ? 'h' : region.slice(0, 2)}${buildId}`;
      world.stores.get(region)?.images.push(
        imageRecord(id, ageDays, {
          'factory:build-id': buildId,
          'factory:channel': 'candidate',
          'factory:stage': 'test',
        }),
      );
    }
    return {
      build: {
        ...DISTRIBUTED,
        buildId,
        order: { sourceCreatedAt: '2026-06-01T08:00:00.000Z', sequence: order },
      },
      imageIn: (region: string) => `ami-${region === HOME ? 'h' : region.slice(0, 2)}${buildId}`,
    };
  };
  const promoteEverywhere = (baked: ReturnType<typeof bake>, only = REGIONS) =>
    promoteImageInRegions(
      {
        build: baked.build,
        candidate: { imageId: baked.imageIn(HOME) },
        distributionVerdict: {
          outcome: only.length === REGIONS.length ? 'complete' : 'partial',
          promote: only.map((region) => ({ region, imageId: baked.imageIn(region) })),
          failed: REGIONS.filter((region) => !only.includes(region)).map((region) => ({
            region,
            error: 'x',
          })),
        },
      },
      { ...world.ports, homeRegion: HOME },
    );

  beforeEach(() => {
    world = regions();
  });

  it('promotes each region to its own image, with its own pointer and an event per region', async () => {
    const first = bake('b1', 3, 1);

    const promotion = await promoteEverywhere(first);

    expect(promotion).toMatchObject({ outcome: 'promoted', imageId: first.imageIn(HOME) });
    expect(promotion.regions?.map((entry) => [entry.region, entry.imageId])).toEqual(
      REGIONS.map((region) => [region, first.imageIn(region)]),
    );
    for (const region of REGIONS) {
      expect((await world.pointers.get(region)?.current('web', 'stable'))?.imageId).toBe(
        first.imageIn(region),
      );
      expect(world.events.get(region)?.published.map((event) => event.detail.imageId)).toEqual([
        first.imageIn(region),
      ]);
    }
  });

  it('promote-succeeded: a failed region keeps its channel, and is listed as unpromoted', async () => {
    const first = bake('b1', 3, 1);
    await promoteEverywhere(first);
    const second = bake('b2', 2, 2);

    const promotion = await promoteEverywhere(second, [HOME, 'ap-southeast-2']);

    expect(promotion.unpromotedRegions).toEqual([{ region: 'eu-west-1', error: 'x' }]);
    expect((await world.pointers.get('eu-west-1')?.current('web', 'stable'))?.imageId).toBe(
      first.imageIn('eu-west-1'),
    );
    expect((await world.pointers.get('ap-southeast-2')?.current('web', 'stable'))?.imageId).toBe(
      second.imageIn('ap-southeast-2'),
    );
  });

  it('rollback moves every region together, each to its copy of the same build', async () => {
    const first = bake('b1', 3, 1);
    await promoteEverywhere(first);
    const second = bake('b2', 2, 2);
    await promoteEverywhere(second);
    const names = REGIONS.filter((region) => region !== HOME);

    const result = await rollbackChannel(
      { pipeline: 'web', channel: 'stable' },
      {
        images: world.stores.get(HOME) as MemoryImageStore,
        pointer: world.pointers.get(HOME) as MemoryChannelPointer,
        events: world.events.get(HOME) as RecordingEventPublisher,
        ledger: new MemoryPromotionLedger(),
        regions: { names, ports: world.ports },
      },
      { holder: 'test' },
    );

    expect(result.imageId).toBe(first.imageIn(HOME));
    expect(result.regions?.map((entry) => [entry.region, entry.imageId])).toEqual(
      names.map((region) => [region, first.imageIn(region)]),
    );
    for (const region of REGIONS) {
      expect((await world.pointers.get(region)?.current('web', 'stable'))?.imageId).toBe(
        first.imageIn(region),
      );
    }
  });

  it('rollback refuses, moving nothing, when a region has no copy of the target build', async () => {
    const first = bake('b1', 3, 1);
    await promoteEverywhere(first);
    const second = bake('b2', 2, 2);
    await promoteEverywhere(second);
    const store = world.stores.get('eu-west-1') as MemoryImageStore;
    store.images = store.images.filter((image) => image.imageId !== first.imageIn('eu-west-1'));

    await expect(
      rollbackChannel(
        { pipeline: 'web', channel: 'stable' },
        {
          images: world.stores.get(HOME) as MemoryImageStore,
          pointer: world.pointers.get(HOME) as MemoryChannelPointer,
          events: world.events.get(HOME) as RecordingEventPublisher,
          ledger: new MemoryPromotionLedger(),
          regions: { names: ['eu-west-1', 'ap-southeast-2'], ports: world.ports },
        },
        { holder: 'test' },
      ),
    ).rejects.toThrow('eu-west-1 hold no copy of build b1');
    for (const region of REGIONS) {
      expect((await world.pointers.get(region)?.current('web', 'stable'))?.imageId).toBe(
        second.imageIn(region),
      );
    }
  });

  it('retention runs in every region with the same rules, deregistering copies with their snapshots', async () => {
    const builds = [
      bake('b1', 60, 1),
      bake('b2', 50, 2),
      bake('b3', 40, 3),
      bake('b4', 35, 4),
      bake('b5', 1, 5),
    ];
    for (const baked of builds.slice(1)) await promoteEverywhere(baked);
    const last = builds[4] as (typeof builds)[number];

    const report = await applyRetentionInRegions(
      { build: last.build, promotion: await promoteEverywhere(last) },
      { ...world.ports, homeRegion: HOME },
      { maxAgeDays: 30, keepLatest: 2, dryRun: false, stage: 'test', now: () => NOW },
    );

    const deregistered = (region: string) => world.stores.get(region)?.deregistered.sort();
    // Older than 30 days and neither the current (b5), the previous (b4) nor the newest two.
    const expired = (region: string) =>
      builds
        .slice(0, 3)
        .map((baked) => baked.imageIn(region))
        .sort();
    expect(deregistered(HOME)).toEqual(expired(HOME));
    for (const region of ['eu-west-1', 'ap-southeast-2'])
      expect(deregistered(region)).toEqual(expired(region));
    expect(report.regions?.map((entry) => [entry.region, entry.counts.deregistered])).toEqual([
      ['eu-west-1', 3],
      ['ap-southeast-2', 3],
    ]);
    expect(report.regions?.[0]?.outcomes.every((entry) => entry.snapshots.length === 1)).toBe(true);
  });

  it('retention keeps an image shared beyond the distribution’s own targets, not one shared with them only', async () => {
    const builds = [bake('b1', 60, 1), bake('b2', 50, 2), bake('b3', 1, 3)];
    for (const baked of builds.slice(1)) await promoteEverywhere(baked);
    const home = world.stores.get(HOME) as MemoryImageStore;
    const [old, foreign] = [builds[0]?.imageIn(HOME) as string, 'ami-foreign'];
    home.images.push(imageRecord(foreign, 70, { 'factory:stage': 'test', 'factory:channel': 'candidate' }));
    home.shared.set(old, ['444455556666', 'ou-arn']);
    home.shared.set(foreign, ['999999999999']);
    const last = builds[2] as (typeof builds)[number];

    await applyRetentionInRegions(
      { build: last.build, promotion: await promoteEverywhere(last) },
      { ...world.ports, homeRegion: HOME },
      { maxAgeDays: 30, keepLatest: 1, dryRun: false, stage: 'test', now: () => NOW },
    );

    expect(home.deregistered).toContain(old);
    expect(home.deregistered).not.toContain(foreign);
  });

  it('cleanup after a distribution failure removes the build’s copies in the other regions; after the verdict it keeps them', async () => {
    const baked = bake('b1', 0, 1);
    const ports = {
      launcher: new MemoryLauncher(),
      images: world.stores.get(HOME) as MemoryImageStore,
      pointer: world.pointers.get(HOME) as MemoryChannelPointer,
      ledger: new MemoryPromotionLedger(),
      regions: world.ports,
    };
    const failedInput = {
      build: baked.build,
      candidate: { ...CANDIDATE, imageId: baked.imageIn(HOME) },
      termination: { terminated: [] },
      error: { Error: 'DistributionFailed' },
    };

    await expect(
      cleanupAfterFailure({ ...failedInput, distributionVerdict: {} }, ports),
    ).resolves.toMatchObject({
      candidate: 'kept',
    });
    const result = await cleanupAfterFailure(failedInput, ports);

    expect(result.candidate).toBe('deregistered');
    expect(result.copies?.map((copy) => [copy.region, copy.imageId])).toEqual([
      ['eu-west-1', baked.imageIn('eu-west-1')],
      ['ap-southeast-2', baked.imageIn('ap-southeast-2')],
    ]);
  });
});
