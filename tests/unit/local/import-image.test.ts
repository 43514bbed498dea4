/**
 * `--image-file`: BakeImage imports an existing disk instead of baking. Uses the real qemu-img
 * (a small sparse qcow2 and a copy-on-write overlay of it), no VM.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TAG } from '#commons/core/tags.js';
import { importLocally } from '#local/bake.js';
import { LocalCatalog } from '#local/catalog.js';

const run = promisify(execFile);

const request = {
  Overrides: {
    ContainerOverrides: [
      {
        Name: 'packer',
        Environment: [
          { Name: 'BASE_IMAGE', Value: 'debian-12' },
          { Name: 'SOURCE_AMI_ID', Value: 'local-base-debian-12-0123456789ab' },
          { Name: 'BUILD_ID', Value: 'web-0123456789ab' },
          { Name: 'PIPELINE', Value: 'web' },
          { Name: 'CHANNEL', Value: 'stable' },
          { Name: 'EXECUTION_NAME', Value: 'web-x' },
          { Name: 'BUILD_JSON', Value: JSON.stringify({ commit: 'abc1234', imageDefinition: 'web' }) },
        ],
      },
    ],
  },
};

let root: string;
let catalog: LocalCatalog;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'import-'));
  catalog = new LocalCatalog(path.join(root, 'catalog'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('importLocally', () => {
  it('registers a flattened copy of an overlay with the tags a bake gives, leaving the file as it was', async () => {
    // Prepare: a base disk and an overlay backed by it, as a VM's disk is.
    const base = path.join(root, 'base.qcow2');
    const overlay = path.join(root, 'overlay.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '16M']);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, overlay]);
    const before = (await stat(overlay)).mtimeMs;

    // Act
    const result = await importLocally(request, { catalog, workDir: path.join(root, 'work'), file: overlay });

    // Assess
    expect(result.LastStatus).toBe('STOPPED');
    expect(result.image.tags).toMatchObject({
      [TAG.pipeline]: 'web',
      [TAG.buildId]: 'web-0123456789ab',
      [TAG.channel]: 'candidate',
      [TAG.sourceAmi]: 'local-base-debian-12-0123456789ab',
      [TAG.commit]: 'abc1234',
    });
    const info = JSON.parse(
      (await run('qemu-img', ['info', '--output=json', catalog.diskPath(result.image.imageId)])).stdout,
    ) as { format: string; 'backing-filename'?: string };
    expect(info.format).toBe('qcow2');
    expect(info['backing-filename']).toBeUndefined();
    expect((await stat(overlay)).mtimeMs).toBe(before);
  });

  it('fails with BakeFailed and registers nothing when the file is not a disk image', async () => {
    // Act
    const attempt = importLocally(request, {
      catalog,
      workDir: path.join(root, 'work'),
      file: path.join(root, 'missing.qcow2'),
    });

    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'BakeFailed' });
    expect(await catalog.listImages()).toEqual([]);
  });
});
