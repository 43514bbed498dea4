/**
 * `packer/scripts/validate-image.sh`, the last step of every bake, run on this host against an
 * image tree (`FACTORY_IMAGE_ROOT`) instead of a build machine: a clean tree passes, and each
 * trace the bake must not ship fails it with the path named. The e2e bake runs the same script
 * on the real build machine (tests/e2e/golden-image.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '../../../packer/scripts/validate-image.sh');
const BUILD_USER = 'factory-build';

/** validate-image.sh on TREE: exit code and stderr (the script reports on stderr). */
const validate = async (tree: string): Promise<{ code: number; stderr: string }> => {
  try {
    const { stderr } = await run('bash', [script], {
      env: { PATH: process.env.PATH, FACTORY_BUILD_USER: BUILD_USER, FACTORY_IMAGE_ROOT: tree },
    });
    return { code: 0, stderr };
  } catch (error) {
    const { code, stderr } = error as { code: number; stderr: string };
    return { code, stderr };
  }
};

describe('validate-image.sh', () => {
  let work: string;
  let tree: string;

  beforeEach(async () => {
    // Prepare: the tree of an image as cleanup.sh leaves it.
    work = await mkdtemp(join(tmpdir(), 'validate-image-test-'));
    tree = join(work, 'root');
    for (const dir of ['etc/ssh', 'etc/sudoers.d', 'etc/apt/apt.conf.d', 'root', 'home/admin']) {
      await mkdir(join(tree, dir), { recursive: true });
    }
    await writeFile(join(tree, 'etc/machine-id'), '');
    await writeFile(
      join(tree, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n',
    );
    await writeFile(join(tree, 'etc/group'), 'root:x:0:\nadmin:x:1000:\n');
    await writeFile(join(tree, 'etc/sudoers'), 'root ALL=(ALL:ALL) ALL\n');
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('passes a clean image tree, and says the bake apt setting is gone', async () => {
    // Act
    const result = await validate(tree);

    // Assess
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('validate-image: ok: no bake apt setting');
    expect(result.stderr).toContain('validate-image: image is clean');
  });

  it('fails when the bake-only apt setting remains, naming the file', async () => {
    // Prepare: what build.pkr.hcl writes before Ansible (packer/locals.pkr.hcl).
    await writeFile(join(tree, 'etc/apt/apt.conf.d/99image-factory-bake'), 'Acquire::Languages "none";\n');

    // Act
    const result = await validate(tree);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `bake apt setting remains: ${tree}/etc/apt/apt.conf.d/99image-factory-bake`,
    );
    expect(result.stderr).toContain('the image is not fit to ship');
  });

  it('fails when the build user, host keys or a machine id remain', async () => {
    // Prepare
    await writeFile(
      join(tree, 'etc/passwd'),
      `root:x:0:0:root:/root:/bin/bash\n${BUILD_USER}:x:1001:1001::/home/${BUILD_USER}:/bin/bash\n`,
    );
    await writeFile(join(tree, 'etc/ssh/ssh_host_ed25519_key'), 'key');
    await writeFile(join(tree, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');

    // Act
    const result = await validate(tree);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`build user ${BUILD_USER} still has an account`);
    expect(result.stderr).toContain(`SSH host keys remain: ${tree}/etc/ssh/ssh_host_ed25519_key`);
    expect(result.stderr).toContain('/etc/machine-id is not empty');
    expect(result.stderr).toContain('3 check(s) failed');
  });
});
