/**
 * E2E: the image definition (ansible/playbook.yml + probe/probe.sh) on a real Debian 12 guest.
 *
 * Prepare: the local base image (scripts/build-base-image.sh, cached) booted as a qemu/TCG VM.
 * Act / Assess:
 *   1. converge with `-e image_factory_backend=local` succeeds;
 *   2. a second converge reports changed=0 (idempotence);
 *   3. after the identity reset Packer's cleanup does (machine-id emptied, cloud-init state
 *      cleaned), a new VM booted from the converged disk passes every probe check, run through
 *      the guest agent as the local pipeline does;
 *   4. with nginx stopped the probe exits non-zero and names the failing checks.
 * Every VM is stopped in afterAll, whatever happened.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestExec, waitForAgent } from '#local/qemu/guest-agent.js';
import { ensureSshKeyPair, runSsh, type SshKeyPair, type SshTarget, waitForSsh } from '#local/qemu/ssh.js';
import { isVmRunning, launchVm, stopVm, type Vm } from '#local/qemu/vm.js';

const run = promisify(execFile);

const repoRoot = resolve(import.meta.dirname, '../..');
const workDir = join(repoRoot, '.cache', 'e2e-ansible');
const venvBin = join(repoRoot, '.cache', 'venv', 'bin');
const bootSeconds = 900;

interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

interface ProbeLine {
  check: string;
  ok: boolean;
  detail: string;
}

/** Totals of the single host in an ansible-playbook PLAY RECAP. Pure. */
function parseRecap(output: string): Recap {
  const match = /ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(output);
  if (match === null) throw new Error(`no PLAY RECAP in ansible-playbook output:\n${output.slice(-2000)}`);
  const [, ok, changed, unreachable, failed] = match.map(Number) as [number, number, number, number, number];
  return { ok, changed, unreachable, failed };
}

async function buildBaseImage(): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'scripts', 'build-base-image.sh')], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 3_000_000,
  });
  const path = stdout.trim().split('\n').pop();
  if (path === undefined || path === '') throw new Error('build-base-image.sh printed no image path');
  return path;
}

async function converge(vm: Vm, key: SshKeyPair): Promise<{ recap: Recap; output: string }> {
  const inventory = join(workDir, `${vm.id}.ini`);
  await writeFile(
    inventory,
    [
      '[factory]',
      `${vm.id} ansible_host=127.0.0.1 ansible_port=${vm.sshPort} ansible_user=${vm.sshUser}` +
        ` ansible_ssh_private_key_file=${key.privateKeyPath}` +
        ` ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'`,
      '',
    ].join('\n'),
  );
  const args = [
    join(repoRoot, 'ansible', 'playbook.yml'),
    '-i',
    inventory,
    '-e',
    'image_factory_backend=local',
  ];
  const env = {
    ...process.env,
    ANSIBLE_CONFIG: join(repoRoot, 'ansible', 'ansible.cfg'),
    ANSIBLE_NOCOLOR: '1',
  };
  try {
    const { stdout } = await run(join(venvBin, 'ansible-playbook'), args, {
      env,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 3_000_000,
    });
    return { recap: parseRecap(stdout), output: stdout };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(
      `ansible-playbook failed:\n${(failed.stdout ?? '').slice(-4000)}\n${failed.stderr ?? ''}`,
    );
  }
}

/** Runs probe/probe.sh in the guest through the guest agent, as the local pipeline does. */
async function probe(vm: Vm): Promise<{ exitCode: number | undefined; lines: ProbeLine[] }> {
  const script = await readFile(join(repoRoot, 'probe', 'probe.sh'));
  const result = await guestExec(vm.qgaSocket, '/bin/bash', ['-s', '--', '--backend', 'local'], {
    input: script,
    timeoutSeconds: 600,
  });
  const lines = result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ProbeLine);
  return { exitCode: result.exitCode, lines };
}

describe('ansible image definition on the local Debian 12 base', () => {
  const vms: Vm[] = [];
  let key: SshKeyPair;
  let builder: Vm;
  let builderSsh: SshTarget;
  let candidate: Vm;

  beforeAll(async () => {
    await mkdir(workDir, { recursive: true });
    const image = await buildBaseImage();
    key = await ensureSshKeyPair(join(workDir, 'ssh'));
    builder = await launchVm({
      image,
      id: 'ansible-builder',
      workDir,
      sshPublicKey: key.publicKey,
      diskGiB: 8,
    });
    vms.push(builder);
    builderSsh = { port: builder.sshPort, user: builder.sshUser, privateKeyPath: key.privateKeyPath };
    await waitForSsh(builderSsh, bootSeconds);
    // First boot is not over when SSH first answers: cloud-init's later stages restart sshd, which
    // drops a connection opened meanwhile. Converge the settled machine, like Packer's first step.
    await waitForAgent(builder.qgaSocket, bootSeconds);
    await guestExec(builder.qgaSocket, '/usr/bin/cloud-init', ['status', '--wait'], {
      timeoutSeconds: bootSeconds,
    });
  });

  afterAll(async () => {
    for (const vm of vms) await stopVm(vm, { graceSeconds: 5 });
  });

  it('converges with the local backend', async () => {
    // Act
    const { recap } = await converge(builder, key);

    // Assess
    expect(recap).toMatchObject({ failed: 0, unreachable: 0 });
    expect(recap.changed).toBeGreaterThan(0);
  });

  it('reports no change on a second converge (idempotence)', async () => {
    // Act
    const { recap, output } = await converge(builder, key);

    // Assess
    const changedTasks = output.split('\n').filter((line) => line.startsWith('changed:'));
    expect(changedTasks).toEqual([]);
    expect(recap).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
  });

  it('passes every probe check on a fresh boot of the converged disk', async () => {
    // Prepare: the identity reset of packer/scripts/cleanup.sh, reduced to what a new boot needs.
    const reset = await runSsh(
      builderSsh,
      'sudo truncate --size=0 /etc/machine-id && sudo cloud-init clean --logs && sudo systemctl poweroff',
    );
    expect([0, 255]).toContain(reset.exitCode);
    for (let waited = 0; isVmRunning(builder) && waited < 180; waited++) {
      await new Promise((done) => setTimeout(done, 1000));
    }
    await stopVm(builder, { graceSeconds: 5 });
    candidate = await launchVm({
      image: builder.overlayPath,
      id: 'ansible-candidate',
      workDir,
      sshPublicKey: key.publicKey,
    });
    vms.push(candidate);
    await waitForAgent(candidate.qgaSocket, bootSeconds);

    // Act
    const { exitCode, lines } = await probe(candidate);

    // Assess
    const listed = await run('bash', [join(repoRoot, 'probe', 'probe.sh'), '--list', '--backend', 'local']);
    expect(lines.map((line) => line.check)).toEqual(listed.stdout.trim().split('\n'));
    expect(lines.filter((line) => !line.ok)).toEqual([]);
    expect(exitCode).toBe(0);
  });

  it('fails the probe and names the checks when nginx is stopped', async () => {
    // Prepare
    const stop = await guestExec(candidate.qgaSocket, '/bin/systemctl', ['stop', 'nginx.service']);
    expect(stop.exitCode).toBe(0);

    // Act
    const { exitCode, lines } = await probe(candidate);

    // Assess
    expect(exitCode).toBe(1);
    expect(lines.filter((line) => !line.ok).map((line) => line.check)).toEqual([
      'service-nginx',
      'health-endpoint',
    ]);
  });
});
