import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { realpath, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestShell, waitForAgent } from '#local/qemu/guest-agent.js';
import { ensureSshKeyPair, runSsh, type SshKeyPair, waitForSsh } from '#local/qemu/ssh.js';
import { launchVm, reapVms, stopVm, type Vm } from '#local/qemu/vm.js';

/**
 * Real VMs from the local base image (scripts/build-base-image.sh; built here when missing or
 * stale, which needs root and a few minutes). Boots two VMs from the same image under TCG and
 * checks what the factory relies on: guest agent, SSH with the generated key, cloud-init done,
 * system running, per-instance identity (machine-id, host keys), the image left untouched and no
 * QEMU left behind. Run: npx vitest run --project e2e tests/e2e/qemu-vm.test.ts
 */
const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '../..');
const workDir = join(repoRoot, '.factory', 'e2e-qemu');
const BOOT_TIMEOUT_SECONDS = 600;

interface Booted {
  vm: Vm;
  agentSeconds: number;
  sshSeconds: number;
}

function qemuPidsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('qemu-system') && cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // process ended while scanning
    }
  }
  return pids;
}

describe('local qemu VMs from the base image', () => {
  let image: string;
  let imageMtime: number;
  let key: SshKeyPair;
  const booted: Booted[] = [];

  beforeAll(async () => {
    await reapVms(workDir);
    await rm(workDir, { recursive: true, force: true });
    const { stdout } = await run('bash', [join(repoRoot, 'scripts/build-base-image.sh')], {
      timeout: 3_600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    image = await realpath(stdout.trim().split('\n').at(-1) ?? '');
    imageMtime = (await stat(image)).mtimeMs;
    key = await ensureSshKeyPair(join(workDir, 'keys'));
  });

  afterAll(async () => {
    await reapVms(workDir);
  });

  it('boots two VMs that answer on the guest agent and over SSH', async () => {
    // Act
    const boots = await Promise.all(
      ['vm-a', 'vm-b'].map(async (id): Promise<Booted> => {
        const vm = await launchVm({
          image,
          id,
          workDir,
          sshPublicKey: key.publicKey,
          memoryMiB: 1024,
          cpus: 2,
        });
        await waitForAgent(vm.qgaSocket, BOOT_TIMEOUT_SECONDS);
        const agentSeconds = (Date.now() - vm.startedAt) / 1000;
        await waitForSsh(
          { port: vm.sshPort, user: vm.sshUser, privateKeyPath: key.privateKeyPath },
          BOOT_TIMEOUT_SECONDS,
        );
        const sshSeconds = (Date.now() - vm.startedAt) / 1000;
        return { vm, agentSeconds, sshSeconds };
      }),
    );
    booted.push(...boots);

    // Assess
    for (const { vm, agentSeconds, sshSeconds } of boots) {
      console.log(`${vm.id}: boot→agent ${agentSeconds.toFixed(1)} s, boot→ssh ${sshSeconds.toFixed(1)} s`);
      const ssh = await runSsh(
        { port: vm.sshPort, user: vm.sshUser, privateKeyPath: key.privateKeyPath },
        'true',
      );
      expect(ssh.exitCode, ssh.stderr).toBe(0);
      const sudo = await runSsh(
        { port: vm.sshPort, user: vm.sshUser, privateKeyPath: key.privateKeyPath },
        'sudo -n true',
      );
      expect(sudo.exitCode, sudo.stderr).toBe(0);
    }
  });

  it('finishes cloud-init and reaches a running system', async () => {
    for (const { vm } of booted) {
      // Act
      const cloudInit = await guestShell(vm.qgaSocket, 'cloud-init status --wait', { timeoutSeconds: 600 });
      const system = await guestShell(
        vm.qgaSocket,
        'systemctl is-system-running --wait; systemctl --failed',
        {
          timeoutSeconds: 600,
        },
      );

      // Assess
      expect(cloudInit.stdout, cloudInit.stderr).toMatch(/status: done/);
      expect(system.stdout.split('\n')[0], system.stdout).toBe('running');
    }
  });

  it('gives every instance its own machine-id and SSH host keys', async () => {
    // Act
    const identities = await Promise.all(
      booted.map(async ({ vm }) => {
        const machineId = (await guestShell(vm.qgaSocket, 'cat /etc/machine-id')).stdout.trim();
        const hostKey = (await guestShell(vm.qgaSocket, 'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'))
          .stdout;
        return { machineId, hostKey: hostKey.split(' ')[1] };
      }),
    );

    // Assess
    const [a, b] = identities;
    expect(a?.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(b?.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(a?.machineId).not.toBe(b?.machineId);
    expect(a?.hostKey).toMatch(/^SHA256:/);
    expect(a?.hostKey).not.toBe(b?.hostKey);
  });

  it('shuts down without leaving a qemu process and leaves the image untouched', async () => {
    // Act
    await Promise.all(booted.map(({ vm }) => stopVm(vm)));

    // Assess
    expect(qemuPidsUnder(workDir)).toEqual([]);
    expect((await stat(image)).mtimeMs).toBe(imageMtime);
  });
});
