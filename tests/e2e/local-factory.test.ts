/**
 * End-to-end: the local factory runs the real pipeline — the ASL in statemachines/, a real Packer
 * bake (qemu source, Ansible roles, cleanup, validation), a real boot, the probe suite through the
 * guest agent, promotion and retention in the local catalog — and, on a deliberately broken image,
 * fails without promoting and leaves no VM behind. Slow (TCG): minutes per bake.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAG } from '#commons/core/tags.js';
import { FileChannelPointer, LocalCatalog } from '#local/catalog.js';
import type { LocalRunSummary } from '#local/factory.js';
import { PROJECT_ROOT } from '#local/process.js';

const run = promisify(execFile);
const STATE_DIR = path.join(PROJECT_ROOT, '.factory-e2e');
const PIPELINE = 'e2e';
const CHANNEL = 'stable';
const DAY_MS = 86_400_000;

/** Live qemu processes started for this state directory (their command lines name it). */
async function qemuProcesses(): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,args']);
  return stdout.split('\n').filter((line) => line.includes('qemu-system') && line.includes(STATE_DIR));
}

/** Runs the CLI as a user would; returns its exit status and summary. */
async function runCli(args: string[]): Promise<{ code: number; summary: LocalRunSummary; stdout: string }> {
  const summaryFile = path.join(STATE_DIR, `summary-${Date.now()}.json`);
  const child = run(
    process.execPath,
    [
      '--import',
      'tsx',
      'local/cli.ts',
      '--pipeline',
      PIPELINE,
      '--channel',
      CHANNEL,
      '--state-dir',
      STATE_DIR,
      '--summary-json',
      summaryFile,
      ...args,
    ],
    { cwd: PROJECT_ROOT, maxBuffer: 256 * 1024 * 1024 },
  );
  let code = 0;
  let stdout = '';
  try {
    stdout = (await child).stdout;
  } catch (error) {
    const failure = error as { code?: number; stdout?: string };
    code = failure.code ?? -1;
    stdout = failure.stdout ?? '';
  }
  const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as LocalRunSummary;
  return { code, summary, stdout };
}

describe('local factory (qemu)', () => {
  const catalog = new LocalCatalog(path.join(STATE_DIR, 'catalog'));
  const pointer = new FileChannelPointer(catalog);
  const seeded: string[] = [];

  beforeAll(async () => {
    await rm(STATE_DIR, { recursive: true, force: true });
    await mkdir(STATE_DIR, { recursive: true });
    // Prepare: five old images of this pipeline (40–44 days) and one of another pipeline, as
    // earlier bakes would have left them, so that retention has something to decide.
    for (let index = 0; index < 6; index += 1) {
      const disk = path.join(STATE_DIR, `seed-${index}.qcow2`);
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
      const pipeline = index === 5 ? 'someone-else' : PIPELINE;
      const record = await catalog.registerImage({
        disk,
        name: `seed-${index}`,
        createdAt: new Date(Date.now() - (40 + index) * DAY_MS).toISOString(),
        tags: { [TAG.pipeline]: pipeline, [TAG.buildId]: `seed-${index}`, [TAG.channel]: 'retired' },
      });
      seeded.push(record.imageId);
    }
  });

  afterAll(async () => {
    expect(await qemuProcesses()).toEqual([]);
  });

  it('bakes, boots, probes, promotes and applies retention', async () => {
    // Act
    const { code, summary, stdout } = await runCli([]);

    // Assess
    expect(summary.error).toBeUndefined();
    expect(code).toBe(0);
    expect(summary.status).toBe('SUCCEEDED');
    expect(summary.statesVisited).toEqual(
      expect.arrayContaining([
        'PrepareBuild',
        'BakeImage',
        'FindCandidateImage',
        'LaunchTestInstance',
        'ProbeTestInstance',
        'CheckProbeResult',
        'TerminateTestInstance',
        'PromoteImage',
        'ApplyRetention',
        'NotifySuccess',
      ]),
    );
    expect(summary.statesVisited).not.toContain('CleanupAfterFailure');
    const output = summary.output as {
      candidate: { imageId: string };
      probeResult: { checks: Array<{ name: string; ok: boolean }> };
      promotion: { imageId: string };
      retention: { outcomes: Array<{ imageId: string; outcome: string }> };
    };
    const checks = output.probeResult.checks;
    expect(checks.length).toBeGreaterThanOrEqual(5);
    expect(checks.filter((check) => !check.ok)).toEqual([]);
    const imageId = output.candidate.imageId;
    expect(output.promotion.imageId).toBe(imageId);
    expect((await pointer.current(PIPELINE, CHANNEL))?.imageId).toBe(imageId);
    const promoted = await catalog.readImage(imageId);
    expect(promoted?.tags[TAG.channel]).toBe(CHANNEL);
    // Retention: six images of the pipeline now; the newest three stay (the new one and the two
    // youngest seeds), the three oldest seeds (older than 30 days) go; the foreign one is untouched.
    const deregistered = output.retention.outcomes
      .filter((outcome) => outcome.outcome === 'deregistered')
      .map((outcome) => outcome.imageId)
      .sort();
    expect(deregistered).toEqual([seeded[2], seeded[3], seeded[4]].sort());
    expect(await catalog.readImage(seeded[5] as string)).toBeDefined();
    expect(await catalog.readImage(seeded[0] as string)).toBeDefined();
    expect(summary.clone?.identical).toEqual([]);
    expect(stdout).toContain('local factory: SUCCEEDED');
    expect(await qemuProcesses()).toEqual([]);
  });

  it('does not promote an image whose probe fails, and leaves no VM running', async () => {
    // Prepare: the channel points at the image of the successful run.
    const before = await pointer.current(PIPELINE, CHANNEL);
    expect(before).toBeDefined();

    // Act: bake an image without the /health endpoint (the web role's toggle).
    const { code, summary } = await runCli([
      '--no-clone-check',
      '--bake-var',
      'ansible_extra_arguments=["-e","web_health_enabled=false"]',
    ]);

    // Assess
    expect(code).not.toBe(0);
    expect(summary.status).toBe('FAILED');
    expect(summary.statesVisited).toContain('CleanupAfterFailure');
    expect(summary.statesVisited).not.toContain('PromoteImage');
    expect(summary.error?.Cause ?? '').toMatch(/health/);
    const candidate = (summary.output as { candidate?: { imageId: string } } | undefined)?.candidate;
    if (candidate) expect(await catalog.readImage(candidate.imageId)).toBeUndefined();
    expect((await pointer.current(PIPELINE, CHANNEL))?.imageId).toBe(before?.imageId);
    expect(await qemuProcesses()).toEqual([]);
  });
});
