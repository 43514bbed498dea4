/**
 * The README's "Add your own image type", followed as written on a copy of the repository: every
 * file the section shows is created, and every command it shows is run, up to (not including) the
 * bake. `npm run factory` boots qemu and belongs to the e2e stage.
 *
 * A file is a fenced block whose preceding line ends with its path in backticks and a colon
 * ("Create `ansible/images/hello.yml`:"); a `bash` block is run as one script.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '../..');
const SECTION = '## Add your own image type';
/** Commands of the walkthrough that bake (qemu): shown, not run here. */
const BAKE = /^npm run factory\b/;

type Step = { kind: 'file'; path: string; content: string } | { kind: 'commands'; lines: string[] };

/** The steps of the README section, in order. Pure. */
function walkthroughSteps(readme: string): Step[] {
  const start = readme.indexOf(SECTION);
  if (start < 0) throw new Error(`README has no "${SECTION}" section`);
  const end = readme.indexOf('\n## ', start + SECTION.length);
  const lines = readme.slice(start, end < 0 ? undefined : end).split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)$/.exec(lines[i] ?? '');
    if (!fence) continue;
    const close = lines.indexOf('```', i + 1);
    const body = lines.slice(i + 1, close);
    const before = lines
      .slice(0, i)
      .reverse()
      .find((line) => line.trim() !== '');
    const path = /`([^`]+)`:$/.exec(before ?? '')?.[1];
    if (fence[1] === 'bash') steps.push({ kind: 'commands', lines: body });
    else if (path) steps.push({ kind: 'file', path, content: `${body.join('\n')}\n` });
    i = close;
  }
  return steps;
}

/** A copy of the working tree (tracked and new files), its own git repository, sharing the toolchain. */
async function copyOfRepository(): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'walkthrough-'));
  const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: repoRoot,
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const file of stdout.split('\0').filter((name) => name !== '')) {
    await mkdir(dirname(join(copy, file)), { recursive: true });
    await cp(join(repoRoot, file), join(copy, file), { verbatimSymlinks: true }).catch((error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // deleted, not yet committed
    });
  }
  for (const shared of ['node_modules', '.cache'])
    await symlink(await realpath(join(repoRoot, shared)), join(copy, shared));
  await run('git', ['init', '--quiet'], { cwd: copy });
  await writeFile(join(copy, '.git', 'info', 'exclude'), '/node_modules\n/.cache\n');
  await run('git', ['add', '--all'], { cwd: copy });
  return copy;
}

describe('README walkthrough "Add your own image type"', () => {
  let readme: string;
  let copy: string;

  beforeAll(async () => {
    readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    copy = await copyOfRepository();
  });
  afterAll(async () => {
    if (copy) await rm(copy, { recursive: true, force: true });
  });

  it('shows a role, a definition, two own checks, the checks before the bake and the bake', () => {
    // Act
    const steps = walkthroughSteps(readme);

    // Assess
    expect(steps.filter((step) => step.kind === 'file').map((step) => step.path)).toEqual([
      'ansible/roles/hello/defaults/main.yml',
      'ansible/roles/hello/meta/argument_specs.yml',
      'ansible/roles/hello/tasks/main.yml',
      'ansible/images/hello.yml',
      'probe/checks.d/hello/10-service-hello.check',
      'probe/checks.d/hello/20-hello-page.check',
    ]);
    const commands = steps.flatMap((step) => (step.kind === 'commands' ? step.lines : []));
    expect(commands.at(-1)).toBe('npm run factory -- --pipeline hello');
  });

  it('works exactly as written up to the bake', { timeout: 1_800_000 }, async () => {
    // Act: write every file, run every command except the bake.
    const outputs: Array<{ stdout: string; stderr: string }> = [];
    for (const step of walkthroughSteps(readme)) {
      if (step.kind === 'file') {
        await mkdir(dirname(join(copy, step.path)), { recursive: true });
        await writeFile(join(copy, step.path), step.content);
        continue;
      }
      const script = step.lines.filter((line) => !BAKE.test(line)).join('\n');
      if (script.trim() === '') continue;
      try {
        const { stdout, stderr } = await run(
          'bash',
          ['-c', `set -o nounset -o errexit -o pipefail\n${script}`],
          {
            cwd: copy,
            env: { ...process.env, ANSIBLE_NOCOLOR: '1', NO_COLOR: '1' },
            maxBuffer: 64 * 1024 * 1024,
          },
        );
        outputs.push({ stdout, stderr });
      } catch (error) {
        const failed = error as { stdout?: string; stderr?: string };
        throw new Error(
          `walkthrough step failed:\n${script}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`,
        );
      }
    }

    // Assess
    const output = outputs.map(({ stdout, stderr }) => `${stdout}\n${stderr}`).join('\n');
    const catalog = JSON.parse(
      await readFile(join(copy, 'functions/commons/core/image-definitions.json'), 'utf8'),
    );
    expect(catalog.names).toEqual(['base', 'hello', 'web']);
    expect(output).toContain('playbook: ansible/images/hello.yml'); // ansible-playbook --syntax-check
    expect(output).toMatch(/Passed: 0 failure\(s\), 0 warning\(s\).*Profile 'production'/s); // ansible-lint
    expect(output).toContain('ok: packer validate qemu.golden image_definition=hello');
    expect(output).toContain('2 drop-in checks in probe/checks.d/hello, 0 invalid');
    const listed = outputs.at(-1)?.stdout.trim().split('\n').slice(-3); // probe.sh --list, the last command
    expect(listed).toEqual(['cloud-init', 'service-hello', 'hello-page']);
  });
});
