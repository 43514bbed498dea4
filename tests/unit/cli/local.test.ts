/**
 * The operator CLI with `--local` on a temporary catalog: images registered as the bake registers
 * them (plain files stand in for the qcow2 disks: nothing here boots), promoted by the pipeline's
 * own step, then read, rolled back, promoted and planned through `runCli`. `start --local` runs an
 * injected pipeline that does not bake (the real one is the e2e stage's), to check what the CLI
 * does around it: validation, the options it refuses, the record that `list` and `status` read.
 */

import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalRunner } from '#cli/local-backend.js';
import { runCli } from '#cli/main.js';
import type { ImageRecord } from '#commons/ports.js';
import { LOCAL_COST_NOTE } from '#commons/report.js';
import { promoteImage } from '#commons/steps/promote-image.js';
import { FileChannelPointer, LocalCatalog, LocalImageStore } from '#local/catalog.js';
import { FileEventLog } from '#local/event-log.js';
import type { LocalRunSummary } from '#local/factory.js';
import { eventProblems } from '../../event-schemas.js';

let dir: string;
let catalog: LocalCatalog;
let pointer: FileChannelPointer;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const factory = async (args: string[], localRunner?: LocalRunner): Promise<Run> => {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--local', '--state-dir', dir, ...args], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    interactive: false,
    signal: new AbortController().signal,
    ...(localRunner ? { localRunner } : {}),
  });
  return { code, stdout, stderr };
};

/** Register a baked image as `local/bake.ts` does (tags of `packer/locals.pkr.hcl`). */
const register = async (n: number, pipeline = 'web'): Promise<ImageRecord> => {
  const disk = path.join(dir, `disk-${n}.qcow2`);
  await writeFile(disk, 'not a real disk');
  return catalog.registerImage({
    disk,
    name: `${pipeline}-${n}`,
    createdAt: new Date(Date.now() - (10 - n) * 3_600_000).toISOString(),
    tags: {
      'factory:pipeline': pipeline,
      'factory:build-id': `${pipeline}-build-${n}`,
      'factory:channel': 'candidate',
      'factory:commit': String(n).repeat(40),
      'factory:source-ami': 'local-base-debian-12-0123456789ab',
      'factory:execution': `${pipeline}-stable-run-${n}`,
    },
  });
};

/** PromoteImage as the pipeline runs it, with the build's order (sequence n). */
const promote = async (image: ImageRecord, n: number) =>
  promoteImage(
    {
      build: {
        buildId: image.tags['factory:build-id'] as string,
        pipeline: 'web',
        channel: 'stable',
        order: { sourceCreatedAt: '2026-11-01T00:00:00.000Z', sequence: n },
      },
      candidate: { imageId: image.imageId },
    },
    { images: new LocalImageStore(catalog), pointer, events: new FileEventLog(catalog.root) },
  );

let a: ImageRecord;
let b: ImageRecord;
let c: ImageRecord;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'factory-cli-'));
  catalog = new LocalCatalog(path.join(dir, 'catalog'));
  pointer = new FileChannelPointer(catalog);
  a = await register(1);
  b = await register(2);
  c = await register(3);
  await promote(a, 1);
  await promote(b, 2);
  await promote(c, 3);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const channelTag = async (image: ImageRecord) =>
  (await catalog.readImage(image.imageId))?.tags['factory:channel'];
const leaseFile = () => path.join(dir, 'catalog', 'ledger', 'leases', 'web', 'stable.json');

describe('factory --local: images, rollback, promote, retention plan', () => {
  it('images: current and previous image of the channel, with build id, commit and source', async () => {
    // Act
    const run = await factory(['images', '--json']);
    const text = await factory(['images']);

    // Assess
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).images).toEqual([
      expect.objectContaining({
        pipeline: 'web',
        channel: 'stable',
        region: 'local',
        position: 'current',
        imageId: c.imageId,
        buildId: 'web-build-3',
        commit: '3'.repeat(40),
        sourceImageId: 'local-base-debian-12-0123456789ab',
        version: 3,
      }),
      expect.objectContaining({ position: 'previous', imageId: b.imageId, version: 2 }),
    ]);
    expect(text.stdout).toMatch(
      new RegExp(
        `web\\s+stable\\s+local\\s+-\\s+current\\s+${c.imageId}\\s+7h \\d\\dm\\s+web-build-3\\s+333333333333`,
      ),
    );
  });

  it('rollback, then promote back the withdrawn image: the lease is taken and released each time', async () => {
    // Act
    const back = await factory(['rollback', '--pipeline', 'web', '--channel', 'stable']);
    const afterRollback = await pointer.current('web', 'stable');
    const forward = await factory(['promote', c.imageId, '--channel', 'stable']);

    // Assess
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`rolled back: web/stable → ${b.imageId} (withdrawn ${c.imageId}`);
    expect(afterRollback?.imageId).toBe(b.imageId);
    expect(forward.code, forward.stderr).toBe(0);
    expect(forward.stdout).toContain(`promoted: web/stable → ${c.imageId} (previous ${b.imageId}`);
    expect((await pointer.current('web', 'stable'))?.imageId).toBe(c.imageId);
    expect(await channelTag(c)).toBe('stable');
    expect(existsSync(leaseFile())).toBe(false);
    // Both published to the catalog's event log, as the pipeline's steps publish.
    const log = (await new FileEventLog(catalog.root).read()).slice(-2);
    expect(
      log.map((event) => [event['detail-type'], event.detail.imageId, event.detail.previousImageId]),
    ).toEqual([
      ['Image Rolled Back', b.imageId, c.imageId],
      ['Image Promoted', c.imageId, b.imageId],
    ]);
    for (const event of log) expect(eventProblems(event as never)).toEqual([]);
  });

  it('promote of an older image is refused with the rollback to use; of the current one is a no-op', async () => {
    // Act
    const older = await factory(['promote', a.imageId, '--channel', 'stable']);
    const current = await factory(['promote', c.imageId, '--channel', 'stable', '--json']);

    // Assess
    expect(older.code).toBe(2);
    expect(older.stderr).toContain(`factory rollback --pipeline web --channel stable --image ${a.imageId}`);
    expect(await channelTag(a)).toBe('retired');
    expect(current.code).toBe(0);
    expect(JSON.parse(current.stdout)).toMatchObject({ reason: 'already current', parameterVersion: 3 });
    expect((await pointer.history('web', 'stable')).length).toBe(3);
  });

  it('rollback while a promotion holds the lease is refused (exit 1) and moves nothing', async () => {
    // Prepare
    const { FilePromotionLedger } = await import('#local/promotion-ledger.js');
    await new FilePromotionLedger(catalog.root).acquire('web', 'stable', 'web-stable-run-4', 600);

    // Act
    const run = await factory(['rollback', '--pipeline', 'web', '--channel', 'stable']);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is held by web-stable-run-4');
    expect((await pointer.current('web', 'stable'))?.imageId).toBe(c.imageId);
  });

  it('retention plan: decisions and reasons, nothing deregistered', async () => {
    // Prepare
    const d = await register(4);

    // Act
    const run = await factory(['retention', 'plan', '--max-age-days', '0', '--keep-latest', '1', '--json']);
    const text = await factory(['retention', 'plan', '--max-age-days', '0', '--keep-latest', '1']);

    // Assess
    expect(run.code).toBe(0);
    const outcomes = JSON.parse(run.stdout).plans[0].outcomes as Array<Record<string, string>>;
    expect(outcomes.map((o) => [o.imageId, o.action, o.reason])).toEqual([
      [d.imageId, 'keep', 'newest'],
      [c.imageId, 'keep', 'current'],
      [b.imageId, 'keep', 'previous'],
      [a.imageId, 'deregister', 'expired'],
    ]);
    expect(await catalog.readImage(a.imageId)).toBeDefined();
    expect(text.stdout).toMatch(
      new RegExp(`web\\s+${a.imageId}\\s+9h \\d\\dm\\s+retired\\s+deregister\\s+expired`),
    );
  });

  it('sweep is not a local command (exit 2); bad arguments are refused before anything runs', async () => {
    // Act
    const sweep = await factory(['sweep', '--dry-run']);
    const limit = await factory(['list', '--limit', '0']);
    const channel = await factory(['rollback', '--pipeline', 'web', '--channel', 'previous-stable']);
    const region = await factory(['images', '--region', 'eu-west-1']);

    // Assess
    expect(sweep.code).toBe(2);
    expect(sweep.stderr).toContain('the local backend has no sweeper');
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit must be a whole number ≥ 1');
    expect(channel.code).toBe(2);
    expect(channel.stderr).toContain('channel must not be');
    expect(region.code).toBe(2);
  });
});

describe('factory --local diff', () => {
  /** Put a real syft SBOM fixture where the local bake writes it and tag the image with it. */
  const withSbom = async (image: ImageRecord, fixture: string) => {
    const file = path.join(catalog.imageDir(image.imageId), 'sbom.cdx.json');
    await copyFile(fileURLToPath(new URL(`../../events/sbom/${fixture}`, import.meta.url)), file);
    const record = (await catalog.readImage(image.imageId)) as ImageRecord;
    await catalog.writeImage({
      ...record,
      tags: { ...record.tags, 'factory:sbom': pathToFileURL(file).href },
    });
  };

  it('prints added, removed, upgraded and downgraded packages with versions; --json gives the lists', async () => {
    await withSbom(b, 'syft-debian12-before.cdx.json');
    await withSbom(c, 'syft-debian12-after.cdx.json');

    const text = await factory(['diff', b.imageId, c.imageId]);
    const json = await factory(['--json', 'diff', b.imageId, c.imageId]);

    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      `${b.imageId} → ${c.imageId}: 1 added, 1 removed, 1 upgraded, 1 downgraded (37 unchanged)`,
    );
    for (const line of [
      /^added\s+nginx:amd64\s+-\s+1\.22\.1-9\+deb12u3$/m,
      /^removed\s+adwaita-icon-theme:all\s+43-1\s+-$/m,
      /^upgraded\s+openssl:amd64\s+3\.0\.19-1~deb12u2\s+3\.0\.20-1~deb12u1$/m,
      /^downgraded\s+curl:amd64\s+7\.88\.1-10\+deb12u14\s+7\.88\.1-10\+deb12u5$/m,
    ])
      expect(text.stdout).toMatch(line);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      from: { imageId: b.imageId, packages: 40 },
      to: { imageId: c.imageId, packages: 40 },
      added: [{ name: 'nginx', arch: 'amd64', version: '1.22.1-9+deb12u3' }],
      removed: [{ name: 'adwaita-icon-theme', arch: 'all', version: '43-1' }],
      upgraded: [{ name: 'openssl', from: '3.0.19-1~deb12u2', to: '3.0.20-1~deb12u1' }],
      downgraded: [{ name: 'curl', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u5' }],
      unchanged: 37,
    });
  });

  it('refuses an unknown image, an image without SBOM and an SBOM outside the catalog, in two lines each', async () => {
    await withSbom(c, 'syft-debian12-after.cdx.json');
    const record = (await catalog.readImage(b.imageId)) as ImageRecord;
    await catalog.writeImage({ ...record, tags: { ...record.tags, 'factory:sbom': 'file:///etc/passwd' } });

    const unknown = await factory(['diff', 'local-img-00000000000000000', c.imageId]);
    const without = await factory(['diff', a.imageId, c.imageId]);
    const outside = await factory(['diff', b.imageId, c.imageId]);

    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('image local-img-00000000000000000 is not an image of local catalog');
    expect(without.code).toBe(1);
    expect(without.stderr).toContain(
      `image ${a.imageId} has no SBOM (no factory:sbom tag): it was baked before the factory made SBOMs`,
    );
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain('outside the local catalog');
    for (const run of [unknown, without, outside]) expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('factory --local start, list, status', () => {
  const summary = (status: LocalRunSummary['status']): LocalRunSummary => ({
    status,
    executionName: `web-stable-local-base-debian-12-0123456789ab-head-${status === 'FAILED' ? 'dead' : 'beef'}0001`,
    statesVisited:
      status === 'FAILED'
        ? [
            'PrepareBuild',
            'BakeImage',
            'FindCandidateImage',
            'LaunchTestInstance',
            'CheckProbeResult',
            'ProbeFailed',
            'CleanupAfterFailure',
            'NotifyFailure',
            'PipelineFailed',
          ]
        : ['PrepareBuild', 'BakeImage', 'PromoteImage', 'NotifySuccess', 'PipelineSucceeded'],
    timings: [
      { state: 'PrepareBuild', seconds: 0.4, entries: 1 },
      { state: 'BakeImage', seconds: 512.3, entries: 1 },
    ],
    executionSeconds: 600,
    totalSeconds: 640,
    ...(status === 'FAILED' ? { error: { Error: 'ProbeFailed', Cause: 'web-health: nginx inactive' } } : {}),
  });

  it('runs the local pipeline with the validated input, prints its summary, records it, exit status = outcome', async () => {
    // Prepare
    const calls: Array<Parameters<LocalRunner>[0]> = [];
    const runner =
      (outcome: LocalRunSummary['status']): LocalRunner =>
      async (options) => {
        calls.push(options);
        options.write('[    0.1 s] ▶ PrepareBuild\n');
        return summary(outcome);
      };

    // Act
    const failed = await factory(['start', '--pipeline', 'web', '--retention-dry-run'], runner('FAILED'));
    const succeeded = await factory(['start', '--pipeline', 'web'], runner('SUCCEEDED'));
    const list = await factory(['list', '--json']);
    const status = await factory(['status', summary('FAILED').executionName]);
    const layered = await factory(['start', '--pipeline', 'web', '--parent', 'base'], runner('SUCCEEDED'));

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('▶ PrepareBuild');
    expect(failed.stdout).toContain('══ local factory: FAILED ══');
    expect(failed.stdout).toMatch(
      /^FAILED in 10m 00s at ProbeFailed: ProbeFailed — web-health: nginx inactive$/m,
    );
    expect(succeeded.code).toBe(0);
    expect(calls[0]).toMatchObject({
      pipeline: 'web',
      channel: 'stable',
      baseImage: 'debian-12',
      stateDir: dir,
      retention: { dryRun: true },
    });
    expect(calls[1]?.retention.dryRun).toBe(false);
    expect(calls[1]?.parent).toBeUndefined();
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ status: 'SUCCEEDED', pipeline: 'web', seconds: 600 }),
      expect.objectContaining({ status: 'FAILED', failingState: 'ProbeFailed', error: 'ProbeFailed' }),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^failing state\s+ProbeFailed$/m);
    expect(status.stdout).toMatch(/BakeImage\s+8m 32s\s+1/);
    // No AWS cost or console for a local run, said in the report's words; no cost table.
    expect(status.stdout).toContain(`cost          ${LOCAL_COST_NOTE}\n`);
    expect(status.stdout).not.toMatch(/ESTIMATED COST|console\s/);
    expect(layered.code).toBe(0);
    expect(calls[2]).toMatchObject({ pipeline: 'web', parent: { pipeline: 'base', channel: 'stable' } });
  });

  it('refuses what a local run cannot take, and an invalid input, without running anything', async () => {
    // Prepare
    let ran = 0;
    const runner: LocalRunner = async () => {
      ran += 1;
      return summary('SUCCEEDED');
    };

    // Act
    const source = await factory(
      ['start', '--pipeline', 'web', '--source-image', 'ami-0123456789abcdef0'],
      runner,
    );
    const noFollow = await factory(['start', '--pipeline', 'web', '--no-follow'], runner);
    const invalid = await factory(['start', '--pipeline', 'Web!'], runner);
    const none = await factory(['status']);

    // Assess
    expect(source.code).toBe(2);
    expect(source.stderr).toContain('the local backend does not take sourceImageId');
    expect(noFollow.code).toBe(2);
    expect(noFollow.stderr).toContain('--no-follow is not available with --local');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('pipeline must be 1-32 characters');
    expect(ran).toBe(0);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no local executions recorded');
  });
});
