import { describe, expect, it } from 'vitest';
import type { FactoryEvent } from '#commons/core/events.js';
import { CandidateNotFound, InvalidInput, PromotionLeaseHeld } from '#commons/errors.js';
import type { ImageRecord } from '#commons/ports.js';
import { applyRetention } from '#commons/steps/apply-retention.js';
import { promoteImage } from '#commons/steps/promote-image.js';
import { rollbackChannel } from '#commons/steps/rollback-channel.js';
import { delivered, eventProblems } from '../../event-schemas.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryPromotionLedger,
  RecordingEventPublisher,
} from '../helpers/fakes.js';
import { BUILD, CANDIDATE, COMMIT, imageRecord, NOW } from '../helpers/fixtures.js';

const channelOf = (store: MemoryImageStore, id: string) =>
  store.images.find((i) => i.imageId === id)?.tags['factory:channel'];

describe('promoteImage', () => {
  const OLDER = '2026-05-01T08:00:00.000Z#000000000004';
  const setup = (currentOrder = OLDER) => {
    const images = new MemoryImageStore([
      { ...imageRecord(CANDIDATE.imageId, 0, { 'factory:channel': 'candidate' }) },
      imageRecord('ami-0000000000000000b', 10, {
        'factory:channel': 'stable',
        'factory:build-order': currentOrder,
      }),
      imageRecord('ami-0000000000000000a', 20, { 'factory:channel': 'previous-stable' }),
      imageRecord('ami-0000000000000000f', 5, { 'factory:channel': 'stable', 'factory:pipeline': 'api' }),
    ]);
    const pointer = new MemoryChannelPointer();
    return { images, pointer, events: new RecordingEventPublisher() };
  };

  it('moves the pointer, then retags the channel from its history and records the build order', async () => {
    const { images, pointer, events } = setup();
    await pointer.point('web', 'stable', 'ami-0000000000000000a');
    await pointer.point('web', 'stable', 'ami-0000000000000000b');

    const promotion = await promoteImage({ build: BUILD, candidate: CANDIDATE }, { images, pointer, events });

    expect(promotion).toEqual({
      outcome: 'promoted',
      channel: 'stable',
      imageId: CANDIDATE.imageId,
      previousImageId: 'ami-0000000000000000b',
      currentImageId: CANDIDATE.imageId,
      reason: 'newer than current image ami-0000000000000000b',
      parameterName: '/channels/web/stable',
      parameterVersion: 3,
    });
    expect(channelOf(images, CANDIDATE.imageId)).toBe('stable');
    expect(channelOf(images, 'ami-0000000000000000b')).toBe('previous-stable');
    expect(channelOf(images, 'ami-0000000000000000a')).toBe('retired');
    expect(channelOf(images, 'ami-0000000000000000f')).toBe('stable');
    expect(images.images[0]?.tags['factory:build-order']).toBe('2026-06-01T08:00:00.000Z#000000000005');
  });

  it('is idempotent when retried', async () => {
    const { images, pointer, events } = setup();
    const first = await promoteImage({ build: BUILD, candidate: CANDIDATE }, { images, pointer, events });
    const second = await promoteImage({ build: BUILD, candidate: CANDIDATE }, { images, pointer, events });
    expect(second).toEqual({ ...first, reason: 'already current' });
    expect(await pointer.history('web', 'stable')).toHaveLength(1);
  });

  it.each([
    ['newer', '2026-06-02T00:00:00.000Z#000000000001'],
    ['as new (same source AMI and sequence)', '2026-06-01T08:00:00.000Z#000000000005'],
    ['on the same source AMI with a later sequence', '2026-06-01T08:00:00.000Z#000000000006'],
  ])(
    'supersedes the build when the current image is %s: pointer and channel tags untouched, candidate retired',
    async (_label, order) => {
      const { images, pointer, events } = setup(order);
      await pointer.point('web', 'stable', 'ami-0000000000000000a');
      await pointer.point('web', 'stable', 'ami-0000000000000000b');

      const promotion = await promoteImage(
        { build: BUILD, candidate: CANDIDATE },
        { images, pointer, events },
      );

      expect(promotion).toMatchObject({
        outcome: 'superseded',
        imageId: CANDIDATE.imageId,
        currentImageId: 'ami-0000000000000000b',
        parameterVersion: 2,
      });
      expect(await pointer.history('web', 'stable')).toHaveLength(2);
      expect(channelOf(images, CANDIDATE.imageId)).toBe('retired');
      expect(channelOf(images, 'ami-0000000000000000b')).toBe('stable');
      expect(channelOf(images, 'ami-0000000000000000a')).toBe('previous-stable');
    },
  );

  it('superseded, still retags the channel from its pointer when a failed cleanup left the tags behind', async () => {
    // Prepare: the pointer moved from a to b, and the cleanup after that promotion failed before
    // retagging (b is still `candidate`, a still `stable`).
    const { images, pointer, events } = setup('2026-06-02T00:00:00.000Z#000000000001');
    images.images[1] = {
      ...(images.images[1] as ImageRecord),
      tags: {
        'factory:pipeline': 'web',
        'factory:channel': 'candidate',
        'factory:build-order': '2026-06-02T00:00:00.000Z#000000000001',
      },
    };
    images.images[2] = {
      ...(images.images[2] as ImageRecord),
      tags: { 'factory:pipeline': 'web', 'factory:channel': 'stable' },
    };
    await pointer.point('web', 'stable', 'ami-0000000000000000a');
    await pointer.point('web', 'stable', 'ami-0000000000000000b');

    // Act: an older build reaches PromoteImage.
    const promotion = await promoteImage({ build: BUILD, candidate: CANDIDATE }, { images, pointer, events });

    // Assess: superseded, the pointer unmoved, the tags agree with it again.
    expect(promotion).toMatchObject({ outcome: 'superseded', currentImageId: 'ami-0000000000000000b' });
    expect(await pointer.history('web', 'stable')).toHaveLength(2);
    expect(channelOf(images, CANDIDATE.imageId)).toBe('retired');
    expect(channelOf(images, 'ami-0000000000000000b')).toBe('stable');
    expect(channelOf(images, 'ami-0000000000000000a')).toBe('previous-stable');
    expect(channelOf(images, 'ami-0000000000000000f')).toBe('stable');
  });

  it('throws CandidateNotFound when the candidate is gone', async () => {
    const { pointer, events } = setup();
    await expect(
      promoteImage(
        { build: BUILD, candidate: CANDIDATE },
        { images: new MemoryImageStore(), pointer, events },
      ),
    ).rejects.toThrow(CandidateNotFound);
  });

  it('refuses a build without an order (InvalidInput) and changes nothing', async () => {
    const { images, pointer, events } = setup();
    const { order: _none, ...unordered } = BUILD;

    await expect(
      promoteImage({ build: unordered, candidate: CANDIDATE }, { images, pointer, events }),
    ).rejects.toThrow(InvalidInput);
    expect(channelOf(images, CANDIDATE.imageId)).toBe('candidate');
  });
});

describe('applyRetention', () => {
  const catalog = () =>
    new MemoryImageStore([
      imageRecord('ami-00000000000000001', 1, { 'factory:channel': 'stable' }),
      imageRecord('ami-00000000000000002', 35, { 'factory:channel': 'previous-stable' }),
      imageRecord('ami-00000000000000003', 40),
      imageRecord('ami-00000000000000004', 45),
      imageRecord('ami-00000000000000005', 50, { 'factory:protected': 'true' }),
      imageRecord('ami-00000000000000006', 55),
      imageRecord('ami-00000000000000007', 60),
      imageRecord('ami-00000000000000008', 65),
      imageRecord('ami-00000000000000009', 70, { 'factory:pipeline': 'api' }),
    ]);
  const options = { maxAgeDays: 30, keepLatest: 3, dryRun: false, now: () => NOW };

  it('deregisters expired images and reports every image with outcome and reason', async () => {
    const images = catalog();
    images.inUse = ['ami-00000000000000006'];
    const retention = await applyRetention(
      { build: BUILD },
      { images, pointer: new MemoryChannelPointer() },
      options,
    );
    expect(retention.dryRun).toBe(false);
    expect(retention.outcomes.map((o) => [o.imageId, o.outcome, o.reason])).toEqual([
      ['ami-00000000000000001', 'kept', 'promoted'],
      ['ami-00000000000000002', 'kept', 'promoted'],
      ['ami-00000000000000003', 'kept', 'newest'],
      ['ami-00000000000000004', 'deregistered', 'expired'],
      ['ami-00000000000000005', 'kept', 'protected'],
      ['ami-00000000000000006', 'kept', 'in-use'],
      ['ami-00000000000000007', 'deregistered', 'expired'],
      ['ami-00000000000000008', 'deregistered', 'expired'],
    ]);
    // Oldest first: a backlog that does not fit the time budget shrinks from its oldest end.
    expect(images.deregistered).toEqual([
      'ami-00000000000000008',
      'ami-00000000000000007',
      'ami-00000000000000004',
    ]);
    expect(retention.outcomes[3]?.snapshots).toEqual([
      { snapshotId: 'snap-00000000000000004', outcome: 'deleted' },
    ]);
  });

  it('dry run returns the exact plan and changes nothing', async () => {
    const images = catalog();
    const live = await applyRetention(
      { build: BUILD },
      { images: catalog(), pointer: new MemoryChannelPointer() },
      options,
    );
    const dry = await applyRetention(
      { build: BUILD },
      { images, pointer: new MemoryChannelPointer() },
      { ...options, dryRun: true },
    );
    expect(dry.dryRun).toBe(true);
    expect(images.deregistered).toEqual([]);
    expect(dry.outcomes.map((o) => [o.imageId, o.action, o.reason])).toEqual(
      live.outcomes.map((o) => [o.imageId, o.action, o.reason]),
    );
    expect(dry.outcomes.filter((o) => o.outcome === 'planned').map((o) => o.imageId)).toEqual([
      'ami-00000000000000004',
      'ami-00000000000000006',
      'ami-00000000000000007',
      'ami-00000000000000008',
    ]);
  });

  it('stops starting deletions when the time budget is spent and reports the rest deferred', async () => {
    // Prepare: 1 s left, 200 ms reserve; each deregistration "takes" 300 ms of the budget, so
    // the fourth expired image finds 100 ms left
    const images = catalog();
    let remaining = 1_000;
    const slow = Object.assign(Object.create(images) as MemoryImageStore, {
      deregisterImage: async (id: string) => {
        remaining -= 300;
        return images.deregisterImage(id);
      },
    });

    // Act
    const retention = await applyRetention(
      { build: BUILD },
      { images: slow, pointer: new MemoryChannelPointer() },
      { ...options, concurrency: 1, reserveMs: 200, remainingMs: () => remaining },
    );

    // Assess
    expect(images.deregistered).toEqual([
      'ami-00000000000000008',
      'ami-00000000000000007',
      'ami-00000000000000006',
    ]);
    expect(retention.outcomes.find((o) => o.imageId === 'ami-00000000000000004')?.outcome).toBe('deferred');
    expect(retention).toMatchObject({ outcome: 'partial', counts: { deregistered: 3, deferred: 1 } });
  });

  it('never deletes an expired image whose sharing it could not read', async () => {
    const images = catalog();
    images.sharedWith = async (id: string) => {
      if (id === 'ami-00000000000000007')
        throw Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' });
      return id === 'ami-00000000000000008' ? ['all'] : [];
    };

    const retention = await applyRetention(
      { build: BUILD },
      { images, pointer: new MemoryChannelPointer() },
      options,
    );

    expect(images.deregistered).toEqual(['ami-00000000000000006', 'ami-00000000000000004']);
    expect(retention.outcomes.find((o) => o.imageId === 'ami-00000000000000007')).toMatchObject({
      outcome: 'failed',
      error: expect.stringContaining('launch permissions unreadable'),
    });
    expect(retention.outcomes.find((o) => o.imageId === 'ami-00000000000000008')?.reason).toBe('shared');
  });

  it('per-execution retentionDryRun overrides the configured mode', async () => {
    const images = catalog();
    const retention = await applyRetention(
      { build: BUILD, retentionDryRun: true },
      { images, pointer: new MemoryChannelPointer() },
      options,
    );
    expect(retention.dryRun).toBe(true);
    expect(images.deregistered).toEqual([]);
  });

  it('continues after a failed deregistration and reports it', async () => {
    const images = catalog();
    images.failing.add('ami-00000000000000007');
    const retention = await applyRetention(
      { build: BUILD },
      { images, pointer: new MemoryChannelPointer() },
      options,
    );
    const failed = retention.outcomes.find((o) => o.imageId === 'ami-00000000000000007');
    expect(failed).toMatchObject({ outcome: 'failed', error: 'UnauthorizedOperation: denied' });
    expect(images.deregistered).toEqual([
      'ami-00000000000000008',
      'ami-00000000000000006',
      'ami-00000000000000004',
    ]);
    expect(retention.outcome).toBe('partial');
  });

  it('protects the image the channel pointer and this promotion name, even untagged', async () => {
    const images = new MemoryImageStore([
      imageRecord('ami-0000000000000000a', 1),
      imageRecord('ami-0000000000000000b', 2),
      imageRecord('ami-0000000000000000c', 3),
      imageRecord('ami-0000000000000000d', 90),
      imageRecord('ami-0000000000000000e', 91),
    ]);
    const pointer = new MemoryChannelPointer();
    await pointer.point('web', 'stable', 'ami-0000000000000000d');
    const promotion = {
      outcome: 'promoted' as const,
      channel: 'stable',
      imageId: 'ami-0000000000000000a',
      previousImageId: 'ami-0000000000000000e',
      parameterName: 'p',
      parameterVersion: 1,
    };
    const retention = await applyRetention({ build: BUILD, promotion }, { images, pointer }, options);
    expect(images.deregistered).toEqual([]);
    expect(retention.outcomes.filter((o) => o.reason === 'promoted').map((o) => o.imageId)).toEqual([
      'ami-0000000000000000a',
      'ami-0000000000000000e',
    ]);
    expect(retention.outcomes.find((o) => o.imageId === 'ami-0000000000000000d')?.reason).toBe('current');
  });
});

describe('rollbackChannel', () => {
  const HOLDER = { holder: 'rollback:request-1' };

  const setup = async () => {
    const images = new MemoryImageStore([
      imageRecord('ami-0000000000000000c', 1, { 'factory:channel': 'stable' }),
      imageRecord('ami-0000000000000000b', 10, { 'factory:channel': 'previous-stable' }),
      imageRecord('ami-0000000000000000a', 20, { 'factory:channel': 'retired' }),
    ]);
    const pointer = new MemoryChannelPointer();
    await pointer.point('web', 'stable', 'ami-0000000000000000a');
    await pointer.point('web', 'stable', 'ami-0000000000000000b');
    await pointer.point('web', 'stable', 'ami-0000000000000000c');
    return { images, pointer, ledger: new MemoryPromotionLedger(), events: new RecordingEventPublisher() };
  };
  /** RollbackChannel of web/stable, as the operator asks for it (no image named). */
  const rollBackStable = (ports: Awaited<ReturnType<typeof setup>>) =>
    rollbackChannel({ pipeline: 'web', channel: 'stable' }, ports, HOLDER);

  it('points the channel back to the previous image and withdraws the current one', async () => {
    const { images, pointer, ledger, events } = await setup();
    const result = await rollBackStable({ images, pointer, ledger, events });
    expect(result).toEqual({
      pipeline: 'web',
      channel: 'stable',
      imageId: 'ami-0000000000000000b',
      withdrawnImageId: 'ami-0000000000000000c',
      parameterName: '/channels/web/stable',
      parameterVersion: 4,
    });
    expect(channelOf(images, 'ami-0000000000000000b')).toBe('stable');
    expect(channelOf(images, 'ami-0000000000000000c')).toBe('rolled-back');
  });

  it('walks the pointer history back on a second rollback, never returning to the withdrawn image', async () => {
    const { images, pointer, ledger, events } = await setup();
    await rollBackStable({ images, pointer, ledger, events });
    const second = await rollBackStable({ images, pointer, ledger, events });
    expect(second).toMatchObject({
      imageId: 'ami-0000000000000000a',
      withdrawnImageId: 'ami-0000000000000000b',
    });
    expect(channelOf(images, 'ami-0000000000000000c')).toBe('rolled-back');
  });

  it('skips history entries whose image no longer exists', async () => {
    const { images, pointer, ledger, events } = await setup();
    images.images = images.images.filter((image) => image.imageId !== 'ami-0000000000000000b');
    const result = await rollBackStable({ images, pointer, ledger, events });
    expect(result.imageId).toBe('ami-0000000000000000a');
  });

  it('follows the pointer, not tags that lag behind it after a failed cleanup', async () => {
    // Prepare: the pointer moved to c, then the cleanup of that promotion failed before retagging.
    const { images, pointer, ledger, events } = await setup();
    const tag = (id: string, value: string) => {
      const image = images.images.find((i) => i.imageId === id) as ImageRecord;
      image.tags['factory:channel'] = value;
    };
    tag('ami-0000000000000000c', 'candidate');
    tag('ami-0000000000000000b', 'stable');
    tag('ami-0000000000000000a', 'previous-stable');

    // Act
    const result = await rollBackStable({ images, pointer, ledger, events });

    // Assess: back to b, the pointer's previous image; c, the image the pointer named, withdrawn.
    expect(result).toMatchObject({
      imageId: 'ami-0000000000000000b',
      withdrawnImageId: 'ami-0000000000000000c',
    });
    expect(channelOf(images, 'ami-0000000000000000b')).toBe('stable');
    expect(channelOf(images, 'ami-0000000000000000c')).toBe('rolled-back');
    expect(channelOf(images, 'ami-0000000000000000a')).toBe('previous-stable');
  });

  it('rolls back to an explicit image of the pipeline', async () => {
    const { images, pointer, ledger, events } = await setup();
    const result = await rollbackChannel(
      { pipeline: 'web', channel: 'stable', imageId: 'ami-0000000000000000a' },
      { images, pointer, ledger, events },
      HOLDER,
    );
    expect(result.imageId).toBe('ami-0000000000000000a');
  });

  it("takes the channel's promotion lease and gives it back, also when it fails", async () => {
    const { images, pointer, ledger, events } = await setup();

    await rollBackStable({ images, pointer, ledger, events });
    await expect(
      rollbackChannel({ pipeline: 'web', channel: 'beta' }, { images, pointer, ledger, events }, HOLDER),
    ).rejects.toThrow(InvalidInput);

    expect(ledger.released).toEqual([
      'test#web#stable rollback:request-1',
      'test#web#beta rollback:request-1',
    ]);
    expect(ledger.leases.size).toBe(0);
  });

  it('refuses to run while a promotion of the channel holds the lease (PromotionLeaseHeld), changing nothing', async () => {
    const { images, pointer, ledger, events } = await setup();
    await ledger.acquire('web', 'stable', BUILD.executionName, 1800);

    await expect(rollBackStable({ images, pointer, ledger, events })).rejects.toThrow(PromotionLeaseHeld);
    expect(await pointer.history('web', 'stable')).toHaveLength(3);
    expect(ledger.leases.get('test#web#stable')?.holder).toBe(BUILD.executionName);
  });

  it('refuses an image that is not the pipeline’s, and a channel without history', async () => {
    const { images, pointer, ledger, events } = await setup();
    await expect(
      rollbackChannel(
        { pipeline: 'web', channel: 'stable', imageId: 'ami-0000000000000000f' },
        { images, pointer, ledger, events },
        HOLDER,
      ),
    ).rejects.toThrow(InvalidInput);
    await expect(
      rollbackChannel({ pipeline: 'web', channel: 'beta' }, { images, pointer, ledger, events }, HOLDER),
    ).rejects.toThrow(/no previous image/);
  });
});

describe('events of promotion and rollback', () => {
  const PROBE = {
    status: 'Success' as const,
    attempt: 3,
    checks: [{ name: 'service-ssh', ok: true, detail: '' }],
    passed: true,
    failed: [],
    summary: '1/1 checks passed',
  };
  const catalog = (currentOrder: string) =>
    new MemoryImageStore([
      imageRecord(CANDIDATE.imageId, 0, { 'factory:channel': 'candidate' }),
      imageRecord('ami-0000000000000000b', 10, {
        'factory:channel': 'stable',
        'factory:build-order': currentOrder,
        'factory:build-id': 'web-bbbbbbbbbbbb',
      }),
    ]);

  it('publishes Image Promoted after the pointer moved, with the probe summary, valid against its schema', async () => {
    const images = catalog('2026-05-01T08:00:00.000Z#000000000004');
    const pointer = new MemoryChannelPointer();
    const events = new RecordingEventPublisher();
    await pointer.point('web', 'stable', 'ami-0000000000000000b');

    await promoteImage(
      { build: BUILD, candidate: CANDIDATE, probeResult: PROBE },
      { images, pointer, events },
    );

    expect(events.published).toHaveLength(1);
    const [event] = events.published;
    expect(event?.detailType).toBe('Image Promoted');
    expect(event?.detail).toMatchObject({
      stage: 'test',
      imageId: CANDIDATE.imageId,
      previousImageId: 'ami-0000000000000000b',
      buildId: BUILD.buildId,
      probe: { summary: '1/1 checks passed', checks: 1, failed: [] },
      parameterVersion: 2,
    });
    expect(eventProblems(delivered(event as FactoryEvent))).toEqual([]);
  });

  it('publishes Build Superseded, the pointer unmoved', async () => {
    const images = catalog('2026-07-01T08:00:00.000Z#000000000009');
    const pointer = new MemoryChannelPointer();
    const events = new RecordingEventPublisher();
    await pointer.point('web', 'stable', 'ami-0000000000000000b');

    await promoteImage(
      { build: BUILD, candidate: CANDIDATE, probeResult: PROBE },
      { images, pointer, events },
    );

    expect(events.published.map((e) => e.detailType)).toEqual(['Build Superseded']);
    expect(events.published[0]?.detail).toMatchObject({
      imageId: CANDIDATE.imageId,
      currentImageId: 'ami-0000000000000000b',
      previousImageId: null,
      parameterVersion: 1,
    });
    expect(eventProblems(delivered(events.published[0] as FactoryEvent))).toEqual([]);
  });

  it('fails after the pointer moved when the event is not published; the retry publishes the same event', async () => {
    const images = catalog('2026-05-01T08:00:00.000Z#000000000004');
    const pointer = new MemoryChannelPointer();
    const events = new RecordingEventPublisher();
    await pointer.point('web', 'stable', 'ami-0000000000000000b');
    events.failing = 1;

    await expect(
      promoteImage({ build: BUILD, candidate: CANDIDATE, probeResult: PROBE }, { images, pointer, events }),
    ).rejects.toMatchObject({ name: 'EventPublishFailed' });
    expect((await pointer.current('web', 'stable'))?.imageId).toBe(CANDIDATE.imageId);
    expect(events.published).toEqual([]);

    await promoteImage(
      { build: BUILD, candidate: CANDIDATE, probeResult: PROBE },
      { images, pointer, events },
    );

    expect(await pointer.history('web', 'stable')).toHaveLength(2);
    expect(events.published[0]?.detail).toMatchObject({
      previousImageId: 'ami-0000000000000000b',
      parameterVersion: 2,
    });
  });

  const rollbackSetup = async () => {
    const images = new MemoryImageStore([
      imageRecord('ami-0000000000000000c', 1, {
        'factory:channel': 'stable',
        'factory:build-id': 'web-cccccccccccc',
      }),
      imageRecord('ami-0000000000000000b', 10, {
        'factory:channel': 'previous-stable',
        'factory:build-id': 'web-bbbbbbbbbbbb',
        'factory:commit': COMMIT,
        'factory:base-image': 'ubuntu-24.04',
      }),
    ]);
    const pointer = new MemoryChannelPointer();
    await pointer.point('web', 'stable', 'ami-0000000000000000b');
    await pointer.point('web', 'stable', 'ami-0000000000000000c');
    return { images, pointer, ledger: new MemoryPromotionLedger(), events: new RecordingEventPublisher() };
  };

  it('publishes Image Rolled Back with the image the channel named before', async () => {
    const ports = await rollbackSetup();

    await rollbackChannel({ pipeline: 'web', channel: 'stable' }, ports, { holder: 'rollback:1' });

    expect(ports.events.published).toHaveLength(1);
    expect(ports.events.published[0]).toMatchObject({
      detailType: 'Image Rolled Back',
      detail: {
        imageId: 'ami-0000000000000000b',
        previousImageId: 'ami-0000000000000000c',
        buildId: 'web-bbbbbbbbbbbb',
        commit: COMMIT,
        architecture: 'x86_64',
        probe: null,
        parameterVersion: 3,
      },
    });
    expect(eventProblems(delivered(ports.events.published[0] as FactoryEvent))).toEqual([]);
  });

  it('names the target when the event is not published; rolling back again to it publishes the same event', async () => {
    const ports = await rollbackSetup();
    ports.events.failing = 1;

    const error = await rollbackChannel({ pipeline: 'web', channel: 'stable' }, ports, {
      holder: 'rollback:1',
    }).catch((caught: Error) => caught);

    expect(error).toMatchObject({
      name: 'EventPublishFailed',
      message: expect.stringContaining('roll back again with imageId ami-0000000000000000b'),
    });
    expect(ports.ledger.leases.size).toBe(0);

    await rollbackChannel({ pipeline: 'web', channel: 'stable', imageId: 'ami-0000000000000000b' }, ports, {
      holder: 'rollback:2',
    });

    expect(await ports.pointer.history('web', 'stable')).toHaveLength(3);
    expect(ports.events.published[0]?.detail).toMatchObject({
      imageId: 'ami-0000000000000000b',
      previousImageId: 'ami-0000000000000000c',
      parameterVersion: 3,
    });
  });
});
