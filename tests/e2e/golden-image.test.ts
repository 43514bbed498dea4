/**
 * End-to-end on qemu, around ONE full bake (TCG makes a bake the dominant cost of CI, so every
 * assertion that needs an image uses this one):
 *
 *   1. `npm run factory -- --pipeline e2e-web --image web --no-clone-check`: the real pipeline (the
 *      ASL in statemachines/, a real Packer bake of `ansible/images/web.yml` on the Debian base image
 *      with every shared role and web's, boot, the probe through the guest agent, promotion,
 *      retention) bakes the web image, probed with the 8 common checks and web's 2 drop-ins,
 *      promoted and put through retention (seeded old images). The runner reads its test
 *      instance's identity (machine-id, host keys) after the probe passed.
 *   2. The bake's own Ansible run is the first converge: its PLAY RECAP has changes and no failure,
 *      and it names the tasks of every role of the chain (baseline, hardening, web, cleanup).
 *   3. A machine booted from the promoted image answers on the guest agent and over SSH with the
 *      key cloud-init installed, finishes first boot, and is no clone of the test instance (the
 *      clone check, on a machine this test boots anyway). It boots beside step 1, as soon as the
 *      bake has registered the candidate (the disk that step 1 then promotes).
 *   4. A second converge of the full chain on that machine changes nothing (idempotence).
 *   5. That machine, with nginx disabled and put through the image's own cleanup, becomes a broken
 *      image; the factory runs it through the real ASL without a bake (`--image-file`): web's own
 *      checks fail (named in the error), CleanupAfterFailure deregisters the candidate, the
 *      channel keeps the image of run 1, the CLI exits 1 and no VM is left.
 * A layered bake (Packer from a parent image, the playbook's layered branch) is not repeated here:
 * tests/integration/runner.test.ts bakes one with the real Packer and runner on the emulator, the
 * unit tests cover the local parent resolution, and `npm run factory -- --parent` runs one locally.
 * Every VM is reaped in afterAll, whatever happened.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAG } from '#commons/core/tags.js';
import { FileChannelPointer, LocalCatalog } from '#local/catalog.js';
import { hostKeyFingerprints, type Identity, readIdentityAt, sameIdentity } from '#local/clone-check.js';
import { FileEventLog } from '#local/event-log.js';
import type { LocalRunSummary } from '#local/factory.js';
import { PROJECT_ROOT } from '#local/process.js';
import { guestExec, guestShell, waitForAgent } from '#local/qemu/guest-agent.js';
import { ensureSshKeyPair, runSsh, type SshKeyPair, type SshTarget, waitForSsh } from '#local/qemu/ssh.js';
import { isVmRunning, launchVm, reapVms, stopVm, type Vm } from '#local/qemu/vm.js';
import { eventProblems } from '../event-schemas.js';
import { COMMON_LOCAL_CHECKS, WEB_CHECKS } from '../probe-checks.js';
import { converge, parseRecap, qemuPidsUnder, roleTasks, run, runFactoryCli } from './helpers.js';

const STATE_DIR = path.join(PROJECT_ROOT, '.factory-e2e');
const VM_DIR = path.join(STATE_DIR, 'e2e-vms');
const PIPELINE = 'e2e-web';
const CHANNEL = 'stable';
const COMMON_CHECKS = COMMON_LOCAL_CHECKS;
const DAY_MS = 86_400_000;
/** The web pipeline's factory arguments, shared by its bake and the broken-image run. */
const WEB_RUN = ['--pipeline', PIPELINE, '--image', 'web', '--channel', CHANNEL, '--no-clone-check'];
const BOOT_SECONDS = 900;

/** Step 3's machine, booted beside the factory run: the image it booted and how first boot ended. */
interface CloneBoot {
  imageId: string;
  disk: string;
  /** The image file's mtime before the boot (the machine must not write it). */
  diskMtime: number;
  settled: { stdout: string; stderr: string };
}

/** The numbered steps above log their wall time, so that `npm test` shows where e2e time goes. */
async function timed<T>(label: string, act: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await act();
  } finally {
    console.log(`e2e: ${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

describe('golden images: one full bake of web, shared by every test (qemu)', () => {
  const catalog = new LocalCatalog(path.join(STATE_DIR, 'catalog'));
  const pointer = new FileChannelPointer(catalog);
  const seeded: string[] = [];
  let first: { code: number; summary: LocalRunSummary; stdout: string };
  let promotedId: string;
  let key: SshKeyPair;
  let machine: Vm;
  let machineSsh: SshTarget;
  let clone: Promise<CloneBoot>;

  beforeAll(async () => {
    await reapVms(VM_DIR);
    await rm(STATE_DIR, { recursive: true, force: true });
    await mkdir(VM_DIR, { recursive: true });
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
    key = await ensureSshKeyPair(path.join(STATE_DIR, 'e2e-keys'));
    // Act (shared by every test below): the full bake of web and the rest of the pipeline. The
    // second machine of step 3 boots from the candidate's disk as soon as the bake has registered
    // it, while the factory boots and probes its own test instance: a boot under TCG keeps about
    // one core busy, so the two overlap on this 2-core machine instead of running one after the
    // other. (Promotion tags the candidate; its disk is the promoted image's: test 3 checks the id.)
    let factoryDone = false;
    const factory = timed('factory run with a full bake of web', () =>
      runFactoryCli(STATE_DIR, WEB_RUN),
    ).finally(() => {
      factoryDone = true;
    });
    clone = bootCandidateMachine(() => factoryDone);
    first = await factory;
    await clone.catch(() => undefined);
    const timings = first.summary.timings.map((entry) => `${entry.state} ${entry.seconds.toFixed(1)} s`);
    console.log(`e2e: states: ${timings.join(', ')}`);
  });

  /**
   * Step 3's machine: waits for the bake's candidate in the catalog (or the end of the factory
   * run), boots a machine from its disk, waits for the agent, SSH and the end of first boot.
   * @throws Error when the factory run ended without a candidate.
   */
  async function bootCandidateMachine(factoryDone: () => boolean): Promise<CloneBoot> {
    let candidate: string | undefined;
    while (candidate === undefined) {
      const images = await catalog.listImages();
      candidate = images.find(
        (image) => image.tags[TAG.pipeline] === PIPELINE && !image.tags[TAG.buildId]?.startsWith('seed-'),
      )?.imageId;
      if (candidate === undefined) {
        if (factoryDone()) throw new Error('the factory run registered no candidate image');
        await new Promise((done) => setTimeout(done, 2000));
      }
    }
    const disk = catalog.diskPath(candidate);
    const diskMtime = (await stat(disk)).mtimeMs;
    return await timed('boot a machine of the image (beside the factory run)', async () => {
      const vm = await launchVm({
        image: disk,
        id: 'converge',
        workDir: VM_DIR,
        sshPublicKey: key.publicKey,
      });
      machine = vm;
      machineSsh = { port: vm.sshPort, user: vm.sshUser, privateKeyPath: key.privateKeyPath };
      await waitForAgent(vm.qgaSocket, BOOT_SECONDS);
      await waitForSsh(machineSsh, BOOT_SECONDS);
      const settled = await guestShell(
        vm.qgaSocket,
        'cloud-init status --wait; systemctl is-system-running --wait',
        {
          timeoutSeconds: BOOT_SECONDS,
        },
      );
      return { imageId: candidate as string, disk, diskMtime, settled };
    });
  }

  afterAll(async () => {
    await reapVms(VM_DIR, { graceSeconds: 3 });
    expect(qemuPidsUnder(STATE_DIR)).toEqual([]);
  });

  it('bakes web in full, boots, probes (common and web checks), promotes and applies retention', async () => {
    // Assess (the bake ran first, in beforeAll)
    const { code, summary, stdout } = first;
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
      build: { imageDefinition: string; baseImage: string; parent?: unknown };
      candidate: { imageId: string };
      probeResult: { checks: Array<{ name: string; ok: boolean }> };
      promotion: { imageId: string };
      retention: { outcomes: Array<{ imageId: string; outcome: string }> };
    };
    expect(output.build.imageDefinition).toBe('web');
    expect(output.build.baseImage).toBe('debian-12');
    expect(output.build.parent).toBeUndefined();
    // All 10 checks: the 8 common ones and web's 2 drop-ins.
    const checks = output.probeResult.checks;
    expect(checks.map((check) => check.name)).toEqual([...COMMON_CHECKS, ...WEB_CHECKS]);
    expect(checks.filter((check) => !check.ok)).toEqual([]);
    promotedId = output.candidate.imageId;
    expect(output.promotion.imageId).toBe(promotedId);
    expect((await pointer.current(PIPELINE, CHANNEL))?.imageId).toBe(promotedId);
    const tags = (await catalog.readImage(promotedId))?.tags ?? {};
    expect(tags[TAG.channel]).toBe(CHANNEL);
    expect(tags[TAG.baseImage]).toBe('debian-12');
    expect(tags).not.toHaveProperty([TAG.parentImage]);
    // The bake's SBOM (packer/scripts/sbom.sh): stored with the image, named by its tag, CycloneDX
    // 1.5 with the Debian packages the roles installed.
    expect(tags[TAG.sbom]).toBe(pathToFileURL(catalog.sbomPath(promotedId)).href);
    const sbom = JSON.parse(await readFile(catalog.sbomPath(promotedId), 'utf8')) as {
      specVersion: string;
      components: Array<{ purl?: string }>;
    };
    expect(sbom.specVersion).toBe('1.5');
    const purls = sbom.components.map((component) => component.purl ?? '');
    for (const name of ['nginx', 'openssh-server', 'chrony', 'linux-image-cloud-amd64'])
      expect(
        purls.some((purl) => purl.startsWith(`pkg:deb/debian/${name}@`) && purl.includes('distro=debian-12')),
        name,
      ).toBe(true);
    // The catalog's event log: Image Promoted for this image, valid against its schema.
    const promotedEvent = (await new FileEventLog(catalog.root).read()).find(
      (event) => event['detail-type'] === 'Image Promoted' && event.detail.imageId === promotedId,
    );
    expect(promotedEvent?.detail).toMatchObject({ pipeline: PIPELINE, channel: CHANNEL, stage: 'local' });
    expect(eventProblems(promotedEvent as never)).toEqual([]);
    // Retention: six images of the pipeline now; the newest three stay (the new one and the two
    // youngest seeds), the three oldest seeds (older than 30 days) go; the foreign one is untouched.
    const deregistered = output.retention.outcomes
      .filter((outcome) => outcome.outcome === 'deregistered')
      .map((outcome) => outcome.imageId)
      .sort();
    expect(deregistered).toEqual([seeded[2], seeded[3], seeded[4]].sort());
    expect(await catalog.readImage(seeded[5] as string)).toBeDefined();
    expect(await catalog.readImage(seeded[0] as string)).toBeDefined();
    // The test instance's identity was read after its probe passed (the clone check's first machine).
    expect(summary.testInstanceIdentity?.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(hostKeyFingerprints(summary.testInstanceIdentity?.hostKeys ?? '').length).toBeGreaterThan(0);
    expect(stdout).toContain('local factory: SUCCEEDED');
    // The run's summary names the SBOM and the package diff (none: the channel served nothing before).
    expect(stdout).toContain(`sbom          ${catalog.sbomPath(promotedId)}`);
    expect(stdout).toMatch(/packages {6}not available: /);
    expect(stdout).toMatch(/vulnerability .*no vulnerability database on the local backend/);
    // The factory left no VM behind (the machine of step 3, in VM_DIR, is this test's own).
    expect(qemuPidsUnder(STATE_DIR, VM_DIR)).toEqual([]);
  });

  it('converged every role of the chain during the bake (first converge)', async () => {
    // Act
    const log = await readFile(
      path.join(STATE_DIR, 'builds', first.summary.executionName, 'packer.log'),
      'utf8',
    );

    // Assess
    const recap = parseRecap(log);
    expect(recap).toMatchObject({ failed: 0, unreachable: 0 });
    expect(recap.changed).toBeGreaterThan(0);
    for (const role of ['baseline', 'hardening', 'web', 'cleanup'])
      expect(roleTasks(log, role).length, role).toBeGreaterThan(0);
    // The identity cleanup and the image validation ran as on every bake; a full bake, not layered.
    expect(log).toMatch(/cleanup: done/);
    expect(log).toMatch(/validate-image: image is clean/);
    // The bake-only apt setting (packer/locals.pkr.hcl) was removed before capture.
    expect(log).toMatch(/validate-image: ok: no bake apt setting/);
    expect(log).toMatch(/--extra-vars image_factory_layered=false/);
  });

  it('boots a machine of the promoted image that answers on the agent and over SSH', async () => {
    // Act: booted in beforeAll, beside the factory run (bootCandidateMachine).
    const boot = await clone;

    // Assess
    expect(boot.imageId).toBe(promotedId);
    expect(boot.settled.stdout, boot.settled.stderr).toMatch(/status: done/);
    expect(boot.settled.stdout.trim().split('\n').at(-1)).toBe('running');
    const sudo = await runSsh(machineSsh, 'sudo -n true');
    expect(sudo.exitCode, sudo.stderr).toBe(0);
    expect((await stat(boot.disk)).mtimeMs).toBe(boot.diskMtime);
    // The clone check: this second machine of the image has its own machine-id and host keys.
    const identity = await readIdentityAt(machine.qgaSocket);
    expect(hostKeyFingerprints(identity.hostKeys).length).toBeGreaterThan(0);
    expect(sameIdentity(first.summary.testInstanceIdentity as Identity, identity)).toEqual([]);
  });

  it('reports no change on a second converge of the full chain on a machine of the image (idempotence)', async () => {
    // Act: the playbook with the variables Packer passes at bake time: the whole chain (baseline,
    // hardening, web, cleanup) converges again on a machine of the image as shipped.
    const { recap, output } = await timed('second converge (full chain)', () =>
      converge(machine, key, VM_DIR, 'web', [
        'image_factory_backend=local',
        `image_factory_pipeline=${PIPELINE} image_factory_build_id=e2e-idempotence`,
        'image_factory_layered=false',
      ]),
    );

    // Assess
    for (const role of ['baseline', 'hardening', 'web', 'cleanup'])
      expect(roleTasks(output, role).length, role).toBeGreaterThan(0);
    const changedTasks = output.split('\n').filter((line) => line.startsWith('changed:'));
    expect(changedTasks).toEqual([]);
    expect(recap).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
  });

  it('does not promote an image whose probe fails (real ASL, no second bake), and leaves no VM running', async () => {
    // Prepare: the machine above becomes a broken image — nginx disabled, then the image's own
    // cleanup and validation (the last step of every bake) and a clean shutdown.
    const disable = await guestExec(machine.qgaSocket, '/bin/systemctl', [
      'disable',
      '--now',
      'nginx.service',
    ]);
    expect(disable.exitCode, disable.stderr).toBe(0);
    const staging = '/tmp/image-factory'; // packer/locals.pkr.hcl staging_dir
    for (const script of ['cleanup.sh', 'validate-image.sh']) {
      const upload = await guestExec(
        machine.qgaSocket,
        '/bin/sh',
        ['-c', `mkdir -p ${staging} && cat >${staging}/${script}`],
        {
          input: await readFile(path.join(PROJECT_ROOT, 'packer', 'scripts', script)),
        },
      );
      expect(upload.exitCode, upload.stderr).toBe(0);
    }
    const finalize = await guestShell(
      machine.qgaSocket,
      `cd / && export FACTORY_BUILD_USER=${machine.sshUser} FACTORY_BACKEND=local && bash ${staging}/cleanup.sh && bash ${staging}/validate-image.sh`,
      { timeoutSeconds: 600 },
    );
    expect(finalize.exitCode, finalize.stderr).toBe(0);
    await guestShell(machine.qgaSocket, 'systemctl poweroff', { timeoutSeconds: 30 }).catch(() => undefined);
    for (let waited = 0; isVmRunning(machine) && waited < 180; waited++) {
      await new Promise((done) => setTimeout(done, 1000));
    }
    await stopVm(machine, { graceSeconds: 5 });
    const before = await pointer.current(PIPELINE, CHANNEL);

    // Act
    const { code, summary, stdout } = await timed('factory run on the broken image (--image-file)', () =>
      runFactoryCli(STATE_DIR, [...WEB_RUN, '--image-file', machine.overlayPath]),
    );

    // Assess
    expect(code).toBe(1);
    expect(summary.status).toBe('FAILED');
    expect(summary.statesVisited).toEqual(
      expect.arrayContaining(['BakeImage', 'ProbeTestInstance', 'CheckProbeResult', 'CleanupAfterFailure']),
    );
    expect(summary.statesVisited).not.toContain('PromoteImage');
    expect(summary.error?.Error).toBe('ProbeFailed');
    // The imported disk's SBOM (made from the disk itself) against the image the channel serves:
    // nginx was disabled, not removed, so no package changed.
    expect(stdout).toContain(`packages      against ${promotedId}: `);
    expect(
      (summary.output as { inspection?: { diff?: { counts?: Record<string, number> } } }).inspection?.diff
        ?.counts,
    ).toMatchObject({ added: 0, removed: 0, upgraded: 0, downgraded: 0 });
    expect(summary.error?.Cause ?? '').toMatch(/service-nginx/);
    expect(summary.error?.Cause ?? '').toMatch(/health-endpoint/);
    // The report names web's own failing checks with their detail; the common ones pass.
    expect(summary.error?.Cause ?? '').toMatch(
      /: service-nginx, health-endpoint \(8\/10 checks passed\) — service-nginx: \S.*; health-endpoint: \S/,
    );
    const candidate = (summary.output as { candidate?: { imageId: string } } | undefined)?.candidate;
    expect(candidate).toBeDefined();
    expect(await catalog.readImage(candidate?.imageId as string)).toBeUndefined();
    const failedEvent = (await new FileEventLog(catalog.root).read()).find(
      (event) => event['detail-type'] === 'Build Failed' && event.detail.imageId === candidate?.imageId,
    );
    expect(failedEvent?.detail).toMatchObject({
      error: { name: 'ProbeFailed' },
      failedState: 'CheckProbeResult',
    });
    expect(eventProblems(failedEvent as never)).toEqual([]);
    expect((await pointer.current(PIPELINE, CHANNEL))?.imageId).toBe(before?.imageId);
    expect(before?.imageId).toBe(promotedId);
    expect(qemuPidsUnder(STATE_DIR)).toEqual([]);
  });
});
