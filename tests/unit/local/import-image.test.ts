/**
 * `--image-file`: BakeImage imports an existing disk instead of baking. Uses the real qemu-img
 * (a small sparse qcow2 and a copy-on-write overlay of it), no VM, and makes the disk's SBOM the
 * way a bake does (scripts/image-inventory.sh mounts the root partition read-only: as root, which
 * the local backend's tests are; real syft from .cache/bin).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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
const SLOW = { timeout: 120_000 };
const fixtures = path.resolve(import.meta.dirname, '../../events/sbom');

/**
 * A qcow2 disk as a Debian image has it: an MBR with one Linux partition at sector 2048 holding
 * an ext4 tree (mkfs.ext4 -d fills it without mounting) with a dpkg database and os-release,
 * unless `withPackages` is false.
 */
async function debianLikeDisk(file: string, withPackages = true): Promise<void> {
  const tree = path.join(root, 'tree');
  await mkdir(path.join(tree, 'etc'), { recursive: true });
  await mkdir(path.join(tree, 'usr/lib'), { recursive: true });
  await writeFile(path.join(tree, 'usr/lib/os-release'), await readFile(path.join(fixtures, 'os-release')));
  await symlink('../usr/lib/os-release', path.join(tree, 'etc/os-release'));
  if (withPackages) {
    await mkdir(path.join(tree, 'var/lib/dpkg'), { recursive: true });
    await writeFile(
      path.join(tree, 'var/lib/dpkg/status'),
      await readFile(path.join(fixtures, 'dpkg-status')),
    );
  }
  const raw = path.join(root, 'disk.raw');
  const partition = path.join(root, 'partition.ext4');
  await run('truncate', ['-s', '40M', raw]);
  await run('sh', ['-c', `printf 'label: dos\\nstart=2048, type=83\\n' | sfdisk --quiet '${raw}'`]);
  await run('mkfs.ext4', ['-q', '-F', '-d', tree, partition, '30M']);
  await run('dd', [
    `if=${partition}`,
    `of=${raw}`,
    'bs=512',
    'seek=2048',
    'conv=notrunc,sparse',
    'status=none',
  ]);
  await run('qemu-img', ['convert', '-O', 'qcow2', raw, file]);
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'import-'));
  catalog = new LocalCatalog(path.join(root, 'catalog'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('importLocally', () => {
  it(
    'registers a flattened copy of an overlay with the tags a bake gives and its SBOM, leaving the file as it was',
    SLOW,
    async () => {
      // Prepare: a base disk and an overlay backed by it, as a VM's disk is.
      const base = path.join(root, 'base.qcow2');
      const overlay = path.join(root, 'overlay.qcow2');
      await debianLikeDisk(base);
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, overlay]);
      const before = (await stat(overlay)).mtimeMs;

      // Act
      const result = await importLocally(request, {
        catalog,
        workDir: path.join(root, 'work'),
        file: overlay,
      });

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
      // Its SBOM, made from the disk's own package database, is stored with it and named by its tag.
      expect(result.image.tags[TAG.sbom]).toBe(pathToFileURL(catalog.sbomPath(result.image.imageId)).href);
      const sbom = JSON.parse(await readFile(catalog.sbomPath(result.image.imageId), 'utf8')) as {
        specVersion: string;
        components: Array<{ name: string; version: string }>;
      };
      expect(sbom.specVersion).toBe('1.5');
      expect(sbom.components).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'libc6', version: '2.36-9+deb12u14' }),
          expect.objectContaining({ name: 'openssl', version: '3.0.19-1~deb12u2' }),
        ]),
      );
      expect(await run('losetup', ['--list', '--noheadings', '--output', 'BACK-FILE'])).toMatchObject({
        stdout: expect.not.stringContaining(root),
      });
    },
  );

  it('fails with BakeFailed and registers nothing when the disk has no package database', SLOW, async () => {
    const disk = path.join(root, 'bare.qcow2');
    await debianLikeDisk(disk, false);

    const attempt = importLocally(request, { catalog, workDir: path.join(root, 'work'), file: disk });

    await expect(attempt).rejects.toMatchObject({
      name: 'BakeFailed',
      message: expect.stringContaining('cannot make the SBOM'),
    });
    expect(await catalog.listImages()).toEqual([]);
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
