import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TAG } from '#commons/core/tags.js';
import { promoteImage } from '#commons/steps/promote-image.js';
import { bakeEnvironment, imageTags } from '#local/bake.js';
import { FileChannelPointer, LocalCatalog, LocalImageStore } from '#local/catalog.js';
import { hostKeyFingerprints, sameIdentity } from '#local/clone-check.js';
import { EVENT_LOG_FILE, FileEventLog } from '#local/event-log.js';
import { exitStatus, renderSummary } from '#local/summary.js';
import { eventProblems } from '../../event-schemas.js';

let root: string;
let catalog: LocalCatalog;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'catalog-'));
  catalog = new LocalCatalog(path.join(root, 'catalog'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function register(tags: Record<string, string>, createdAt?: string) {
  const disk = path.join(root, `disk-${Math.random()}.qcow2`);
  await writeFile(disk, 'qcow2 bytes');
  return catalog.registerImage({ disk, name: 'img', tags, ...(createdAt ? { createdAt } : {}) });
}

describe('LocalCatalog and LocalImageStore', () => {
  it('registers a disk as an image with an AMI-like id and moves the disk into the catalog', async () => {
    // Act
    const image = await register({ [TAG.pipeline]: 'web' });

    // Assess
    expect(image.imageId).toMatch(/^local-img-[0-9a-f]{17}$/);
    expect((await stat(catalog.diskPath(image.imageId))).size).toBe('qcow2 bytes'.length);
    expect(await readdir(root)).toEqual(['catalog']);
    expect(await catalog.readImage(image.imageId)).toEqual(image);
  });

  it('finds images carrying every requested tag only', async () => {
    // Prepare
    const web = await register({ [TAG.pipeline]: 'web', [TAG.buildId]: 'b1' });
    await register({ [TAG.pipeline]: 'web', [TAG.buildId]: 'b2' });
    await register({ [TAG.pipeline]: 'api', [TAG.buildId]: 'b1' });
    const store = new LocalImageStore(catalog);

    // Act
    const found = await store.findImages({ [TAG.pipeline]: 'web', [TAG.buildId]: 'b1' });

    // Assess
    expect(found.map((image) => image.imageId)).toEqual([web.imageId]);
  });

  it('merges tags and refuses to tag a missing image', async () => {
    // Prepare
    const image = await register({ [TAG.pipeline]: 'web', [TAG.channel]: 'candidate' });
    const store = new LocalImageStore(catalog);

    // Act
    await store.tagImage(image.imageId, { [TAG.channel]: 'stable' });

    // Assess
    expect((await store.getImage(image.imageId))?.tags).toEqual({
      [TAG.pipeline]: 'web',
      [TAG.channel]: 'stable',
    });
    await expect(store.tagImage('local-img-00000000000000000', {})).rejects.toThrow(/does not exist/);
  });

  it('deregisters an image with its disk and reports its snapshot deleted', async () => {
    // Prepare
    const image = await register({ [TAG.pipeline]: 'web' });
    const store = new LocalImageStore(catalog);

    // Act
    const outcomes = await store.deregisterImage(image.imageId);

    // Assess
    expect(outcomes).toEqual([{ snapshotId: image.snapshotIds[0], outcome: 'deleted' }]);
    expect(await store.getImage(image.imageId)).toBeUndefined();
    expect(await store.deregisterImage(image.imageId)).toEqual([]);
  });

  it('rejects ids that are not local image ids before touching the file system', () => {
    expect(() => catalog.imageDir('../../etc')).toThrow(/not a local image id/);
    expect(() => catalog.channelFile('web', '../x')).toThrow(/invalid pipeline or channel/);
  });

  it('keeps an architecture track under the pipeline, and refuses any other nesting', async () => {
    expect(catalog.channelFile('web/arm64', 'stable')).toBe(
      path.join(root, 'catalog', 'channels', 'web', 'arm64', 'stable.json'),
    );
    for (const track of ['web/amd64', 'web/arm64/x', '../web', 'web/..'])
      expect(() => catalog.channelFile(track, 'stable'), track).toThrow(/invalid pipeline or channel/);
    // The x86_64 track's channels do not include the arm64 directory.
    const pointer = new FileChannelPointer(catalog);
    await pointer.point('web', 'stable', 'local-img-00000000000000001');
    await pointer.point('web/arm64', 'stable', 'local-img-00000000000000002');
    expect(await pointer.channels('web')).toEqual(['stable']);
    expect((await pointer.current('web/arm64', 'stable'))?.imageId).toBe('local-img-00000000000000002');
  });

  it('asks the launcher which images are in use', async () => {
    const store = new LocalImageStore(catalog, async (ids) => ids.filter((id) => id.endsWith('1')));
    expect(await store.imagesInUse(['local-img-00000000000000001', 'local-img-00000000000000002'])).toEqual([
      'local-img-00000000000000001',
    ]);
  });
});

describe('FileChannelPointer', () => {
  it('keeps every position newest first, with increasing versions (the rollback trail)', async () => {
    // Prepare
    const pointer = new FileChannelPointer(catalog);

    // Act
    const first = await pointer.point('web', 'stable', 'local-img-00000000000000001');
    const second = await pointer.point('web', 'stable', 'local-img-00000000000000002');

    // Assess
    expect([first.version, second.version]).toEqual([1, 2]);
    expect((await pointer.current('web', 'stable'))?.imageId).toBe('local-img-00000000000000002');
    expect((await pointer.history('web', 'stable')).map((position) => position.imageId)).toEqual([
      'local-img-00000000000000002',
      'local-img-00000000000000001',
    ]);
    expect(await pointer.current('web', 'beta')).toBeUndefined();
  });

  it("lists a pipeline's channels (none before the first promotion)", async () => {
    const pointer = new FileChannelPointer(catalog);
    expect(await pointer.channels('web')).toEqual([]);

    await pointer.point('web', 'stable', 'local-img-00000000000000001');
    await pointer.point('web', 'beta', 'local-img-00000000000000002');
    await pointer.point('api', 'stable', 'local-img-00000000000000003');

    expect((await pointer.channels('web')).sort()).toEqual(['beta', 'stable']);
  });

  it('serves the shared promotion step: candidate promoted, previous demoted, pointer moved', async () => {
    // Prepare
    const store = new LocalImageStore(catalog);
    const pointer = new FileChannelPointer(catalog);
    const old = await register(
      { [TAG.pipeline]: 'web', [TAG.channel]: 'stable' },
      '2026-01-01T00:00:00.000Z',
    );
    await pointer.point('web', 'stable', old.imageId);
    const candidate = await register({
      [TAG.pipeline]: 'web',
      [TAG.channel]: 'candidate',
      [TAG.buildId]: 'b',
    });
    const build = {
      buildId: 'b',
      pipeline: 'web',
      channel: 'stable',
      trigger: 'manual' as const,
      baseImage: 'debian-12',
      imageDefinition: 'web',
      sourceImageId: 'local-base-debian-12-0123456789ab',
      sourceImageName: 'debian-12',
      executionName: 'x',
      startedAt: '2026-01-02T00:00:00.000Z',
      probeTimeoutSeconds: 60,
      order: { sourceCreatedAt: '2026-01-01T00:00:00.000Z', sequence: 2 },
    };

    // Act
    const promotion = await promoteImage(
      { build, candidate: { ...candidate, snapshotIds: candidate.snapshotIds } },
      { images: store, pointer, events: new FileEventLog(catalog.root) },
    );

    // Assess
    expect(promotion.imageId).toBe(candidate.imageId);
    expect(promotion.previousImageId).toBe(old.imageId);
    expect((await store.getImage(candidate.imageId))?.tags[TAG.channel]).toBe('stable');
    expect((await store.getImage(old.imageId))?.tags[TAG.channel]).toBe('previous-stable');
    expect((await pointer.current('web', 'stable'))?.version).toBe(2);
    // The event log in the catalog: Image Promoted as EventBridge would deliver it.
    const log = await new FileEventLog(catalog.root).read();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      'detail-type': 'Image Promoted',
      source: 'image-factory',
      region: 'local',
      detail: {
        stage: 'local',
        imageId: candidate.imageId,
        previousImageId: old.imageId,
        parameterVersion: 2,
      },
    });
    expect(eventProblems(log[0] as never)).toEqual([]);
  });

  it('appends events to the catalog event log, one JSON line each, in order', async () => {
    const events = new FileEventLog(catalog.root);
    const failed = (buildId: string) =>
      ({
        detailType: 'Build Failed',
        detail: {
          schemaVersion: 1,
          stage: 'local',
          region: 'local',
          pipeline: 'web',
          channel: 'stable',
          architecture: 'x86_64',
          imageId: null,
          previousImageId: null,
          buildId,
          commit: null,
          sourceImageId: null,
          probe: null,
          error: { name: 'ProbeFailed', cause: null },
          failedState: 'CheckProbeResult',
        },
      }) as const;

    await events.publish([failed('web-000000000001')]);
    await events.publish([failed('web-000000000002'), failed('web-000000000003')]);

    const text = await readFile(path.join(catalog.root, EVENT_LOG_FILE), 'utf8');
    expect(text.split('\n')).toHaveLength(4);
    const log = await events.read();
    expect(log.map((event) => event.detail.buildId)).toEqual([
      'web-000000000001',
      'web-000000000002',
      'web-000000000003',
    ]);
    for (const event of log) expect(eventProblems(event as never)).toEqual([]);
  });

  it('fails with EventPublishFailed when the log cannot be written', async () => {
    await writeFile(path.join(root, 'not-a-dir'), '');
    const events = new FileEventLog(path.join(root, 'not-a-dir'));

    await expect(events.publish([])).resolves.toBeUndefined();
    await expect(events.publish([{ detailType: 'Build Failed', detail: {} } as never])).rejects.toMatchObject(
      { name: 'EventPublishFailed' },
    );
  });
});

describe('bake request', () => {
  const request = (environment: Array<{ Name: string; Value?: string }>) => ({
    Overrides: { ContainerOverrides: [{ Name: 'packer', Environment: environment }] },
  });
  const full = [
    { Name: 'BASE_IMAGE', Value: 'debian-12' },
    { Name: 'SOURCE_AMI_ID', Value: 'local-base-debian-12-0123456789ab' },
    { Name: 'BUILD_ID', Value: 'web-0123456789ab' },
    { Name: 'PIPELINE', Value: 'web' },
    { Name: 'CHANNEL', Value: 'stable' },
    { Name: 'EXECUTION_NAME', Value: 'web-x' },
    { Name: 'BUILD_JSON', Value: JSON.stringify({ commit: 'abc1234', imageDefinition: 'base' }) },
  ];

  it('reads the container environment the BakeImage state sends, commit and definition from BUILD_JSON', () => {
    const environment = bakeEnvironment(request(full));
    expect(environment).toMatchObject({
      BUILD_ID: 'web-0123456789ab',
      COMMIT: 'abc1234',
      EXECUTION_NAME: 'web-x',
      IMAGE_DEFINITION: 'base',
    });
    expect(imageTags(environment, {})).toMatchObject({
      [TAG.pipeline]: 'web',
      [TAG.buildId]: 'web-0123456789ab',
      [TAG.channel]: 'candidate',
      [TAG.commit]: 'abc1234',
    });
  });

  it('reads the architecture from BUILD_JSON (x86_64 when absent) and tags the image with it', () => {
    // Prepare
    const arm64 = full.map((entry) =>
      entry.Name === 'BUILD_JSON'
        ? { ...entry, Value: JSON.stringify({ imageDefinition: 'base', architecture: 'arm64' }) }
        : entry,
    );

    // Act
    const x86 = bakeEnvironment(request(full));
    const arm = bakeEnvironment(request(arm64));

    // Assess
    expect(x86.ARCHITECTURE).toBe('x86_64');
    expect(imageTags(x86, {})).toMatchObject({ [TAG.architecture]: 'x86_64' });
    expect(arm.ARCHITECTURE).toBe('arm64');
    expect(imageTags(arm, {})).toMatchObject({ [TAG.architecture]: 'arm64' });
  });

  it('refuses a BUILD_JSON architecture it does not know', () => {
    const sparc = full.map((entry) =>
      entry.Name === 'BUILD_JSON'
        ? { ...entry, Value: JSON.stringify({ imageDefinition: 'base', architecture: 'aarch64' }) }
        : entry,
    );
    expect(() => bakeEnvironment(request(sparc))).toThrow(
      expect.objectContaining({
        name: 'BakeFailed',
        message: 'BUILD_JSON names an unknown architecture "aarch64"',
      }),
    );
  });

  it("reads a layered build's parent image from BUILD_JSON and tags the image with its lineage", () => {
    const parent = 'local-img-0123456789abcdef0';
    const layered = [
      ...full.filter((entry) => !['SOURCE_AMI_ID', 'BUILD_JSON'].includes(entry.Name)),
      { Name: 'SOURCE_AMI_ID', Value: parent },
      {
        Name: 'BUILD_JSON',
        Value: JSON.stringify({
          imageDefinition: 'web',
          parent: { pipeline: 'base', channel: 'stable', imageId: parent },
        }),
      },
    ];

    const environment = bakeEnvironment(request(layered));

    expect(environment.PARENT_IMAGE).toBe(parent);
    expect(imageTags(environment, { base_image: 'debian-12' })).toMatchObject({
      [TAG.sourceAmi]: parent,
      [TAG.baseImage]: 'debian-12',
      [TAG.parentImage]: parent,
    });
    expect(imageTags(bakeEnvironment(request(full)), {})).not.toHaveProperty([TAG.parentImage]);
    // The parent is what the build bakes from: a request that says otherwise is refused.
    expect(() =>
      bakeEnvironment(
        request([...layered.filter((entry) => entry.Name !== 'SOURCE_AMI_ID'), full[1] as (typeof full)[1]]),
      ),
    ).toThrow(/names parent image local-img-0123456789abcdef0 but SOURCE_AMI_ID is local-base-debian-12-/);
  });

  it('names the missing variable', () => {
    expect(() => bakeEnvironment(request(full.filter((entry) => entry.Name !== 'BUILD_ID')))).toThrow(
      /no BUILD_ID/,
    );
    expect(() =>
      bakeEnvironment(
        request([...full.filter((entry) => entry.Name !== 'BUILD_JSON'), { Name: 'BUILD_JSON', Value: '{' }]),
      ),
    ).toThrow(/BUILD_JSON is not JSON/);
    expect(() =>
      bakeEnvironment(
        request([
          ...full.filter((entry) => entry.Name !== 'BUILD_JSON'),
          { Name: 'BUILD_JSON', Value: JSON.stringify({ commit: 'abc1234' }) },
        ]),
      ),
    ).toThrow(/no imageDefinition in its BUILD_JSON/);
  });
});

describe('clone identity', () => {
  const line = (fingerprint: string, host: string, type: string): string =>
    `256 SHA256:${fingerprint} root@${host} (${type})`;
  const first = {
    machineId: 'a',
    hostKeys: [line('k1', 'one', 'ECDSA'), line('k2', 'one', 'ED25519')].join('\n'),
  };

  it('finds nothing shared between machines with their own machine-id and host keys', () => {
    expect(
      sameIdentity(first, {
        machineId: 'b',
        hostKeys: [line('k3', 'two', 'ECDSA'), line('k4', 'two', 'ED25519'), line('k5', 'two', 'RSA')].join(
          '\n',
        ),
      }),
    ).toEqual([]);
  });

  it('compares host keys by fingerprint: one shared key is a clone, whatever host the comment names', () => {
    expect(
      sameIdentity(first, {
        machineId: 'b',
        hostKeys: [line('k9', 'two', 'ECDSA'), line('k2', 'two', 'ED25519')].join('\n'),
      }),
    ).toEqual(['ssh-host-keys']);
    expect(sameIdentity(first, { machineId: 'a', hostKeys: line('k1', 'one', 'ECDSA') })).toEqual([
      'machine-id',
      'ssh-host-keys',
    ]);
  });

  it('counts an empty first identity as shared (it proves nothing)', () => {
    expect(
      sameIdentity({ machineId: '', hostKeys: '' }, { machineId: 'b', hostKeys: line('k', 'two', 'RSA') }),
    ).toEqual(['machine-id', 'ssh-host-keys']);
  });

  it('reads the fingerprints of ssh-keygen -lf lines and skips anything else', () => {
    expect(
      hostKeyFingerprints(`${line('k1', 'one', 'ECDSA')}\n\nnot a key line\n${line('k2', 'x', 'RSA')}`),
    ).toEqual(['SHA256:k1', 'SHA256:k2']);
  });
});

describe('renderSummary', () => {
  /** A succeeded run with nothing else to show. */
  const minimalSummary = {
    status: 'SUCCEEDED' as const,
    executionName: 'web-x',
    statesVisited: [],
    timings: [],
    executionSeconds: 1,
    totalSeconds: 1,
  };

  it('prints each probe check, the promotion and each retention decision', () => {
    const text = renderSummary({
      status: 'SUCCEEDED',
      executionName: 'web-x',
      statesVisited: [],
      timings: [{ state: 'BakeImage', seconds: 12.34, entries: 1 }],
      executionSeconds: 20,
      totalSeconds: 30,
      output: {
        build: { buildId: 'web-0123456789ab', imageDefinition: 'web' },
        probeResult: { checks: [{ name: 'health', ok: true, detail: '200' }] },
        promotion: {
          channel: 'stable',
          imageId: 'local-img-1',
          previousImageId: null,
          parameterName: 'p',
          parameterVersion: 1,
        },
        retention: {
          dryRun: false,
          outcomes: [
            {
              imageId: 'local-img-0',
              action: 'deregister',
              outcome: 'deregistered',
              reason: 'older than 30 days',
            },
          ],
        },
      },
    });
    expect(text).toMatch(/definition\s+web\n/);
    expect(text).toContain('pass health: 200');
    expect(text).toContain('stable → local-img-1');
    expect(text).toContain('local-img-0 deregistered (older than 30 days)');
    expect(text).toMatch(/BakeImage\s+12\.3/);
  });

  it("names a layered build's parent instead of the base image", () => {
    const text = renderSummary({
      ...minimalSummary,
      sourceImage: { imageId: 'local-img-0123456789abcdef0', name: 'base-1', ownerId: undefined },
      output: {
        build: { parent: { pipeline: 'base', channel: 'stable', imageId: 'local-img-0123456789abcdef0' } },
      },
    });
    expect(text).toContain('parent        base/stable → local-img-0123456789abcdef0 (layered)');
    expect(text).not.toContain('base image');
  });

  it('says when the clone check that was asked for did not run', () => {
    const text = renderSummary({
      ...minimalSummary,
      cloneCheckNotRun: 'identity unknown',
    });
    expect(text).toContain('clone check   NOT RUN: identity unknown');
  });
});

describe('exitStatus', () => {
  const identity = { machineId: 'a', hostKeys: '' };
  const clone = (identical: string[]) => ({ identical, first: identity, second: identity });
  it.each([
    ['succeeded, no clone check asked', { status: 'SUCCEEDED' as const }, false, 0],
    ['succeeded, clones differ', { status: 'SUCCEEDED' as const, clone: clone([]) }, false, 0],
    [
      'succeeded, clones share the machine-id',
      { status: 'SUCCEEDED' as const, clone: clone(['machine-id']) },
      false,
      1,
    ],
    [
      'succeeded, clone check could not run',
      { status: 'SUCCEEDED' as const, cloneCheckNotRun: 'identity unknown' },
      false,
      1,
    ],
    ['failed', { status: 'FAILED' as const }, false, 1],
    ['aborted', { status: 'ABORTED' as const }, false, 130],
    ['interrupted', { status: 'SUCCEEDED' as const }, true, 130],
  ])('%s → %i', (_, summary, interrupted, expected) => {
    expect(exitStatus(summary, interrupted)).toBe(expected);
  });
});
