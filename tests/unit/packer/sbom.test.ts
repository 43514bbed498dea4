/**
 * The bake's SBOM recipe, run on this host without a VM: `packer/scripts/package-inventory.sh`
 * packs an image tree's package inventory (here a temporary tree built from real-shaped Debian 12
 * files, `tests/events/sbom/`), and `packer/scripts/sbom.sh` turns it into CycloneDX 1.5 with the
 * real syft that `scripts/setup.sh` builds (.cache/bin/syft). The bake runs the same two scripts:
 * the first in the build machine, the second on the Packer host (packer/build.pkr.hcl).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '../../..');
const fixtures = join(repoRoot, 'tests/events/sbom');
const inventoryScript = join(repoRoot, 'packer/scripts/package-inventory.sh');
const sbomScript = join(repoRoot, 'packer/scripts/sbom.sh');
const SYFT = join(repoRoot, '.cache/bin/syft');
const SLOW = { timeout: 120_000 };

/** Exit code and stderr of a failed command (execFile rejects with them). */
const failure = async (promise: Promise<unknown>): Promise<{ code: number; stderr: string }> => {
  try {
    await promise;
  } catch (error) {
    const { code, stderr } = error as { code: number; stderr: string };
    return { code, stderr };
  }
  throw new Error('the command succeeded');
};

describe('package inventory and SBOM', () => {
  let work: string;
  let tree: string;

  beforeEach(async () => {
    // Prepare: an image tree as the build machine has it (os-release is a symlink, as on Debian).
    work = await mkdtemp(join(tmpdir(), 'sbom-test-'));
    tree = join(work, 'root');
    await mkdir(join(tree, 'var/lib/dpkg'), { recursive: true });
    await mkdir(join(tree, 'usr/lib/python3/dist-packages/example_tool-1.4.2.dist-info'), {
      recursive: true,
    });
    await mkdir(join(tree, 'usr/share/doc/openssl'), { recursive: true });
    await mkdir(join(tree, 'etc/ssh'), { recursive: true });
    await writeFile(join(tree, 'var/lib/dpkg/status'), await readFile(join(fixtures, 'dpkg-status')));
    await writeFile(join(tree, 'usr/lib/os-release'), await readFile(join(fixtures, 'os-release')));
    await symlink('../usr/lib/os-release', join(tree, 'etc/os-release'));
    await writeFile(
      join(tree, 'usr/share/doc/openssl/copyright'),
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Apache-2.0\n',
    );
    await writeFile(
      join(tree, 'usr/lib/python3/dist-packages/example_tool-1.4.2.dist-info/METADATA'),
      'Metadata-Version: 2.1\nName: example-tool\nVersion: 1.4.2\n',
    );
    await writeFile(join(tree, 'etc/ssh/ssh_host_ed25519_key'), 'not for the inventory\n');
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('packs the package databases, metadata and release files, and nothing else', SLOW, async () => {
    // Act
    const archive = join(work, 'inventory.tar.gz');
    await run('bash', [inventoryScript, '--root', tree, archive]);
    const { stdout } = await run('tar', ['-tzf', archive]);

    // Assess
    const entries = stdout.split('\n').filter(Boolean).sort();
    expect(entries).toEqual([
      'etc/os-release',
      'usr/lib/os-release',
      'usr/lib/python3/dist-packages/example_tool-1.4.2.dist-info/',
      'usr/lib/python3/dist-packages/example_tool-1.4.2.dist-info/METADATA',
      'usr/share/doc/openssl/copyright',
      'var/lib/dpkg/status',
    ]);
  });

  it('refuses a tree without a package database (exit 1) and bad usage (exit 2)', SLOW, async () => {
    await rm(join(tree, 'var/lib/dpkg'), { recursive: true });
    const empty = await failure(run('bash', [inventoryScript, '--root', tree, join(work, 'x.tar.gz')]));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('no package database (dpkg, rpm or apk)');

    const usage = await failure(run('bash', [inventoryScript]));
    expect(usage.code).toBe(2);
  });

  it('makes a CycloneDX 1.5 SBOM with Debian package URLs from the inventory (real syft)', SLOW, async () => {
    // Prepare
    const archive = join(work, 'inventory.tar.gz');
    const sbom = join(work, 'out', 'sbom.cdx.json');
    await run('bash', [inventoryScript, '--root', tree, archive]);

    // Act
    await run('bash', [sbomScript, archive, sbom, 'web', 'build-123'], { env: { ...process.env, SYFT } });

    // Assess
    const document = JSON.parse(await readFile(sbom, 'utf8')) as {
      bomFormat: string;
      specVersion: string;
      metadata: { component: { name: string; version: string } };
      components: { type: string; name: string; version: string; purl?: string; licenses?: unknown }[];
    };
    expect(document.bomFormat).toBe('CycloneDX');
    expect(document.specVersion).toBe('1.5');
    expect(document.metadata.component).toMatchObject({ name: 'web', version: 'build-123' });
    const purls = document.components.map((component) => component.purl).filter(Boolean);
    expect(purls.sort()).toEqual([
      'pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc',
      'pkg:deb/debian/openssl@3.0.19-1~deb12u2?arch=amd64&distro=debian-12',
      'pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib',
      'pkg:pypi/example-tool@1.4.2',
    ]);
    // The copyright file gave openssl its licence; no file components (ScanSbom counts components).
    expect(document.components.find((component) => component.name === 'openssl')).toMatchObject({
      licenses: [{ license: { id: 'Apache-2.0' } }],
    });
    expect(document.components.filter((component) => component.type === 'file')).toEqual([]);
    const os = document.components.find((component) => component.type === 'operating-system');
    expect(os).toMatchObject({ name: 'debian', version: '12' });
  });

  it('fails clearly without syft (exit 2) and leaves no SBOM', SLOW, async () => {
    const archive = join(work, 'inventory.tar.gz');
    const sbom = join(work, 'sbom.cdx.json');
    await run('bash', [inventoryScript, '--root', tree, archive]);
    const missing = await failure(
      run('bash', [sbomScript, archive, sbom, 'web', 'b'], {
        env: { ...process.env, SYFT: join(work, 'no-such-syft') },
      }),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('syft not found');
    await expect(readFile(sbom)).rejects.toThrow(/ENOENT/);
  });
});
