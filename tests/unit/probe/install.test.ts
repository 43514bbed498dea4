/**
 * How the probe reaches a test machine: the bake installs it into the image, and the pipeline runs
 * it in place (SSM Run Command on AWS, the guest agent locally). Both bakes share one build block
 * (packer/build.pkr.hcl), so the install step is the same for `amazon-ebs.golden` and
 * `qemu.golden`. Here that step's own commands, taken from the template, run on this host with its
 * two directories moved into a temporary one: no VM, no Packer. (Not as root, `chown` is a stand-in.)
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IMAGE_DEFINITION_NAMES } from '#commons/core/image-definitions.js';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '../../..');
const SLOW = { timeout: 60_000 };

/** The `provisioner "shell"` block of build.pkr.hcl that installs the probe (it names checks.d). */
const installBlock = async (): Promise<string> => {
  const template = await readFile(join(repoRoot, 'packer/build.pkr.hcl'), 'utf8');
  const blocks = template.split(/\n(?=\s*(?:#[^\n]*\n\s*)*provisioner "|\s*post-processor ")/);
  const found = blocks.filter((block) => /provisioner "shell"/.test(block) && block.includes('/checks.d'));
  if (found.length !== 1) throw new Error(`expected one probe install provisioner, found ${found.length}`);
  return found[0] as string;
};

/**
 * The `inline` commands of an HCL block, one quoted string per line. HCL lets an interpolation hold
 * unescaped quotes (`${source.type == "amazon-ebs" ? …}`), so each line is unquoted as a whole.
 */
const inlineOf = (block: string): string[] => {
  const list = /inline\s*=\s*\[([\s\S]*?)\n\s*\]/.exec(block)?.[1];
  if (list === undefined) throw new Error('no inline list in the block');
  return list
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('"'))
    .map((line) => {
      const quoted = /^"(.*)",?(\s*#.*)?$/.exec(line)?.[1];
      if (quoted === undefined) throw new Error(`not one quoted string per line: ${line}`);
      return quoted.replace(/\\(["\\])/g, '$1');
    });
};

/** `${expression}` as HCL writes an interpolation. */
const ref = (expression: string): string => `\${${expression}}`;

/** The commands with the template's values for one build; throws on an interpolation not known here. */
const render = (
  commands: string[],
  values: { installDir: string; stagingDir: string; imageDefinition: string; sourceType: string },
): string[] =>
  commands.map((command) => {
    const rendered = command
      .replaceAll(ref('local.probe_install_dir'), values.installDir)
      .replaceAll(ref('local.staging_dir'), values.stagingDir)
      .replaceAll(ref('var.image_definition'), values.imageDefinition)
      .replaceAll(
        ref('source.type == "amazon-ebs" ? "aws" : "local"'),
        values.sourceType === 'amazon-ebs' ? 'aws' : 'local',
      );
    if (/\$\{/.test(rendered)) throw new Error(`unknown interpolation in: ${command}`);
    return rendered;
  });

/** Relative paths of every file under `dir`, sorted. */
const filesUnder = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'probe-install-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('probe install step of the bake (packer/build.pkr.hcl)', () => {
  it('runs for both sources: skipped only for the communicator-less emulator bake', async () => {
    // Act
    const block = await installBlock();

    // Assess
    expect(block).toMatch(/\bexcept\s*=\s*local\.skipped_provisioner_sources\b/);
    expect(block).not.toMatch(/\bonly\s*=/);
  });

  it.each(
    IMAGE_DEFINITION_NAMES.flatMap((name) => [
      [name, 'amazon-ebs'],
      [name, 'qemu'],
    ]),
  )(
    'installs probe.sh, lib/ and exactly the checks of %s (%s)',
    SLOW,
    async (imageDefinition, sourceType) => {
      // Prepare: the staging directory as the file provisioners leave it (scripts/, probe/).
      const installDir = join(root, 'usr/local/libexec/image-factory');
      const stagingDir = join(root, 'tmp/image-factory');
      await mkdir(join(stagingDir, 'probe'), { recursive: true });
      await cp(join(repoRoot, 'probe'), join(stagingDir, 'probe'), { recursive: true });
      const commands = render(inlineOf(await installBlock()), {
        installDir,
        stagingDir,
        imageDefinition,
        sourceType,
      });
      const own = (await readdir(join(repoRoot, 'probe/checks.d', imageDefinition)).catch(() => []))
        .filter((name) => name.endsWith('.check'))
        .sort();

      // Not root here: `chown root:root` would be refused, so a stand-in on PATH accepts it.
      const path = [process.env.PATH ?? ''];
      if (process.getuid?.() !== 0) {
        const bin = join(root, 'bin');
        await mkdir(bin);
        await writeFile(join(bin, 'chown'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
        path.unshift(bin);
      }

      // Act: as Packer's shell provisioner runs inline commands, one script.
      const { stdout } = await run('bash', ['-c', commands.join('\n')], {
        cwd: root,
        env: { ...process.env, PATH: path.join(':') },
      });

      // Assess: the tree, and the runner's own list from its installed place.
      const lib = (await readdir(join(repoRoot, 'probe/lib'))).map((name) => `lib/${name}`);
      expect(await filesUnder(installDir)).toEqual(
        ['probe.sh', ...lib, ...own.map((name) => `checks.d/${name}`)].sort(),
      );
      // The list the repository's runner gives for this definition's checks (none: an empty dir).
      const sourceChecks = own.length > 0 ? join(repoRoot, 'probe/checks.d', imageDefinition) : root;
      const backend = sourceType === 'amazon-ebs' ? 'aws' : 'local';
      const { stdout: listed } = await run('bash', [
        join(repoRoot, 'probe/probe.sh'),
        '--list',
        '--backend',
        backend,
        '--checks-dir',
        sourceChecks,
      ]);
      const expected = listed.trim().split('\n');
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^${own.length} drop-in checks in .*, 0 invalid$`));
      expect(lines.slice(1)).toEqual(expected);
    },
  );
});
