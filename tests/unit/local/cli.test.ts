/**
 * `npm run factory` picks the image definition before anything runs: `--image`, else the
 * pipeline's entry in PIPELINES, else the pipeline's namesake. A bad choice exits 2 and names the
 * known definitions, before any base image, VM or bake. (The success path bakes: e2e.)
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseImageDefinition, chooseParent } from '#local/image-definitions.js';

const repoRoot = resolve(import.meta.dirname, '../../..');

describe('chooseParent', () => {
  it.each([
    ['web', undefined, undefined, undefined],
    ['web', 'base', undefined, { pipeline: 'base', channel: 'stable' }],
    ['web', 'base/beta', 'web=ubuntu-24.04', { pipeline: 'base', channel: 'beta' }],
    ['web', undefined, 'base=debian-12,web=web@pipeline:base/beta', { pipeline: 'base', channel: 'beta' }],
    ['web', 'other', 'base=debian-12,web=web@pipeline:base', { pipeline: 'other', channel: 'stable' }],
    ['web', undefined, 'web=debian-12', undefined],
  ])('pipeline %s, --parent %s, PIPELINES %s → %j', (pipeline, parent, pipelines, expected) => {
    expect(chooseParent(pipeline, parent, pipelines)).toEqual(expected);
  });

  it.each([
    ['web', 'web', 'pipeline web cannot be its own parent'],
    ['web', 'Base', 'pipeline: pipeline must be 1-32 characters'],
    ['web', 'base/candidate', 'channel: channel must not be'],
    ['web', 'base/stable/x', 'expected <pipeline>[/<channel>]'],
  ])('refuses pipeline %s with --parent %s', (pipeline, parent, message) => {
    expect(() => chooseParent(pipeline, parent, undefined)).toThrow(message);
  });
});

describe('chooseImageDefinition', () => {
  it.each([
    ['web', undefined, undefined, 'web'],
    ['base', undefined, undefined, 'base'],
    ['edge', 'base', undefined, 'base'],
    ['edge', undefined, 'web=ubuntu-24.04,edge=base@debian-12:beta', 'base'],
    ['edge', 'web', 'edge=base@debian-12', 'web'],
    ['web', undefined, 'other=base@debian-12', 'web'],
  ])('pipeline %s, --image %s, PIPELINES %s → %s', async (pipeline, image, pipelines, expected) => {
    expect(await chooseImageDefinition(pipeline, image, pipelines)).toBe(expected);
  });

  it.each([
    ['web', 'nginx', undefined, 'unknown image definition "nginx"; expected one of: base, web'],
    ['api', undefined, undefined, 'unknown image definition "api" (pipeline "api" names none'],
    ['api', undefined, 'api=nginx@debian-12', 'imageDefinition must be one of: base, web (got "nginx")'],
  ])('refuses pipeline %s, --image %s, PIPELINES %s', async (pipeline, image, pipelines, message) => {
    await expect(chooseImageDefinition(pipeline, image, pipelines)).rejects.toThrow(message);
  });

  it('refuses a playbook that is not in the catalog yet, saying how to add it', async () => {
    // Prepare: a copy of the definitions with one more playbook than the catalog lists.
    const root = await mkdtemp(join(tmpdir(), 'choose-definition-'));
    try {
      for (const dir of ['ansible/images', 'probe/checks.d', 'functions/commons/core/image-definitions.json'])
        await cp(join(repoRoot, dir), join(root, dir), { recursive: true });
      await writeFile(join(root, 'ansible/images/hello.yml'), '---\n');

      // Act / Assess
      await expect(chooseImageDefinition('hello', undefined, undefined, root)).rejects.toThrow(
        'the image definitions on disk (base, hello, web) differ from functions/commons/core/image-definitions.json: run npm run image-definitions',
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('npm run factory', { timeout: 60_000 }, () => {
  const factory = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        'node',
        ['--import', 'tsx', 'local/cli.ts', ...args],
        { cwd: repoRoot, env: { ...process.env, PIPELINES: '', ...env }, timeout: 60_000 },
        (error, stdout, stderr) => done({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });

  it('exits 2 before anything runs when arm64 is asked for without the opt-in, naming it', async () => {
    // Act: by flag, and by a declaration of both architectures (x86_64 would run first).
    const byFlag = await factory(['--architecture', 'arm64'], { FACTORY_LOCAL_ARM64: '' });
    const byDeclaration = await factory([], { FACTORY_LOCAL_ARM64: '', ARCHITECTURES: 'web=x86_64+arm64' });

    // Assess
    for (const { code, stdout, stderr } of [byFlag, byDeclaration]) {
      expect(code).toBe(2);
      expect(stderr).toContain(
        'factory: the local backend bakes arm64 only when opted in: set FACTORY_LOCAL_ARM64=1',
      );
      // Nothing ran: no base image, no execution, no summary.
      expect(stdout).toBe('');
    }
  });

  it('exits 2 for an unknown --architecture', async () => {
    const { code, stderr } = await factory(['--architecture', 'aarch64'], {});
    expect(code).toBe(2);
    expect(stderr).toContain('factory: --architecture must be one of x86_64, arm64, got aarch64');
  });

  it('exits 2 and names the known definitions for an unknown --image', async () => {
    // Act
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(
        'node',
        ['--import', 'tsx', 'local/cli.ts', '--image', 'nginx'],
        { cwd: repoRoot, env: { ...process.env, PIPELINES: '' }, timeout: 60_000 },
        (error, _stdout, stderr) => done({ code: error ? Number(error.code) : 0, stderr }),
      );
    });

    // Assess
    expect(code).toBe(2);
    expect(stderr).toContain('factory: unknown image definition "nginx"; expected one of: base, web');
  });
});
