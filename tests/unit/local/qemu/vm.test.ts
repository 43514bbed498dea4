import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildQemuArgs,
  findFreePort,
  isVmRunning,
  launchVm,
  listVms,
  QEMU_ARCHITECTURES,
  reapVms,
  reapVmsSync,
  stopVm,
  VmLaunchFailed,
  vmPaths,
} from '#local/qemu/vm.js';

const run = promisify(execFile);
const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0lGS6mRvZ6gYbQe6ZP4cjQ2j7ud8bYVZ5s0Xw9nU2J test';

/** Starts a long-lived process whose command line names `vmDir` (as QEMU's -pidfile does). */
function fakeQemuProcess(vmDir: string): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)', join(vmDir, 'qemu.pid')], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child.pid as number;
}

/** Alive and not a zombie (a reaped-late child of an exited parent still answers kill(pid, 0)). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

describe('buildQemuArgs', () => {
  it('boots the overlay under TCG with the seed, forwarded SSH, agent channel, QMP, console and pid file', () => {
    // Prepare
    const paths = vmPaths('/w', 'vm-1');

    // Act
    const args = buildQemuArgs({ id: 'vm-1', ...paths, sshPort: 2222, memoryMiB: 1024, cpus: 2 }).join(' ');

    // Assess
    expect(args).toContain('-accel tcg,thread=multi');
    expect(args).toContain('-cpu max');
    expect(args).toContain('-machine q35');
    expect(args).toContain('-m 1024');
    expect(args).toContain('-smp 2');
    expect(args).toContain('file=/w/vms/vm-1/overlay.qcow2,if=none,id=disk0,format=qcow2');
    expect(args).toContain('file=/w/vms/vm-1/seed.iso,if=none,id=seed0,format=raw,readonly=on');
    expect(args).toContain('user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22');
    expect(args).toContain('socket,id=qga0,path=/w/vms/vm-1/qga.sock,server=on,wait=off');
    expect(args).toContain('name=org.qemu.guest_agent.0');
    expect(args).toContain('socket,id=qmp0,path=/w/vms/vm-1/qmp.sock,server=on,wait=off');
    expect(args).toContain('-mon chardev=qmp0,mode=control');
    expect(args).toContain('file,id=console0,path=/w/vms/vm-1/console.log');
    expect(args).toContain('-pidfile /w/vms/vm-1/qemu.pid');
    expect(args).toContain('-daemonize');
    expect(args).not.toContain('-kernel');
    expect(args).not.toContain('pflash');
  });

  it('boots arm64 on the virt board with the AAVMF code read-only and the VM its own variable store', () => {
    // Prepare
    const paths = vmPaths('/w', 'vm-2');

    // Act
    const args = buildQemuArgs({
      id: 'vm-2',
      architecture: 'arm64',
      ...paths,
      sshPort: 2222,
      memoryMiB: 2048,
      cpus: 2,
    }).join(' ');

    // Assess
    expect(args).toContain('-machine virt');
    expect(args).not.toContain('q35');
    expect(args).toContain(
      '-drive if=pflash,unit=0,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd',
    );
    expect(args).toContain('-drive if=pflash,unit=1,format=raw,file=/w/vms/vm-2/efivars.fd');
    expect(args).toContain('-accel tcg,thread=multi');
    expect(args).toContain('-cpu max');
    // The same virtio PCI devices as on x86_64 (virt has a PCIe host bridge).
    expect(args).toContain('virtio-blk-pci,drive=disk0,bootindex=0');
    expect(args).toContain('virtio-net-pci,netdev=net0');
    expect(args).toContain('name=org.qemu.guest_agent.0');
  });

  it('refuses a UEFI architecture without a variable store path', () => {
    const { efiVarsPath: _, ...paths } = vmPaths('/w', 'vm-3');
    expect(() =>
      buildQemuArgs({ id: 'vm-3', architecture: 'arm64', ...paths, sshPort: 2222, memoryMiB: 2048, cpus: 2 }),
    ).toThrow('VM vm-3: virt boots UEFI and needs efiVarsPath');
  });
});

describe('QEMU_ARCHITECTURES', () => {
  // packer/locals.pkr.hcl qemu_architectures is the Packer copy of the table: the bake and the
  // test instance must run the same emulator and firmware.
  const hcl = readFileSync(join(import.meta.dirname, '../../../../packer/locals.pkr.hcl'), 'utf8');
  const block = (architecture: string): string => {
    const match = new RegExp(`\\n    ${architecture} = \\{\\n([\\s\\S]*?)\\n    \\}`).exec(hcl);
    if (!match?.[1])
      throw new Error(`no ${architecture} block in qemu_architectures of packer/locals.pkr.hcl`);
    return match[1];
  };
  const value = (architecture: string, key: string): string =>
    new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"$`, 'm').exec(block(architecture))?.[1] ?? '<missing>';

  it.each(['x86_64', 'arm64'] as const)(
    '%s: the Packer source runs the same binary and firmware',
    (architecture) => {
      const local = QEMU_ARCHITECTURES[architecture];
      expect(value(architecture, 'binary')).toBe(local.binary);
      expect(value(architecture, 'efi_code')).toBe(local.firmware?.code ?? '');
      expect(value(architecture, 'efi_vars')).toBe(local.firmware?.vars ?? '');
    },
  );

  it('arm64 is the virt board in both (x86_64: Packer keeps the plugin default pc, the launcher q35)', () => {
    expect(value('arm64', 'machine_type')).toBe(QEMU_ARCHITECTURES.arm64.machine);
  });
});

describe('findFreePort', () => {
  it('returns a bindable port', async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(1023);
    expect(port).toBeLessThan(65536);
  });
});

describe('VM lifecycle with a stand-in qemu', () => {
  let workDir: string;
  let fakeQemu: string;
  let image: string;

  beforeEach(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'vm-test-'));
    image = join(workDir, 'base.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
    // Accepts QEMU's arguments, "daemonizes" a long-lived process and writes its pid file.
    fakeQemu = join(workDir, 'fake-qemu');
    await writeFile(
      fakeQemu,
      [
        '#!/bin/bash',
        'while (($#)); do case "$1" in -pidfile) pf="$2"; shift ;; esac; shift; done',
        // Like qemu -daemonize: the process that stays writes its own pid, and the launcher exits
        // once the pid file exists (no window in which the file names a process still exec-ing).
        `"${process.execPath}" -e 'require("node:fs").writeFileSync(process.argv[1], String(process.pid)); setTimeout(() => {}, 600000)' "$pf" </dev/null >/dev/null 2>&1 &`,
        'while [ ! -s "$pf" ]; do sleep 0.05; done',
        '',
      ].join('\n'),
    );
    await chmod(fakeQemu, 0o755);
  });
  afterEach(async () => {
    reapVmsSync(workDir);
    await rm(workDir, { recursive: true, force: true });
  });

  it('launchVm creates an overlay backed by the image, a seed and a record; stopVm ends the process', async () => {
    // Act
    const vm = await launchVm({ image, id: 'vm-1', workDir, sshPublicKey: key, qemuBinary: fakeQemu });

    // Assess
    expect(vm).toMatchObject({
      id: 'vm-1',
      sshUser: 'factory',
      overlayPath: join(workDir, 'vms/vm-1/overlay.qcow2'),
    });
    expect(isVmRunning(vm)).toBe(true);
    const { stdout } = await run('qemu-img', ['info', '--output=json', vm.overlayPath]);
    expect(JSON.parse(stdout)).toMatchObject({ format: 'qcow2', 'backing-filename': image });
    expect(await listVms(workDir)).toEqual([vm]);
    await expect(
      launchVm({ image, id: 'vm-1', workDir, sshPublicKey: key, qemuBinary: fakeQemu }),
    ).rejects.toThrow(/already running/);

    // Act
    await stopVm(vm, { graceSeconds: 1 });

    // Assess
    expect(isVmRunning(vm)).toBe(false);
    expect(alive(vm.pid)).toBe(false);
  });

  it('launchVm reports the qemu error', async () => {
    // Prepare
    const failing = join(workDir, 'failing-qemu');
    await writeFile(failing, '#!/bin/sh\necho "qemu: could not load PC BIOS" >&2\nexit 1\n');
    await chmod(failing, 0o755);

    // Act + Assess
    await expect(
      launchVm({ image, id: 'vm-2', workDir, sshPublicKey: key, qemuBinary: failing }),
    ).rejects.toThrow(/could not load PC BIOS/);
  });

  it.each([['../escape'], [''], ['a/b'], ['x'.repeat(70)]])('launchVm rejects the id %j', async (id) => {
    await expect(launchVm({ image, id, workDir, sshPublicKey: key })).rejects.toBeInstanceOf(VmLaunchFailed);
  });

  it('launchVm rejects a work dir too long for unix sockets', async () => {
    await expect(
      launchVm({ image, id: 'vm', workDir: join(workDir, 'd'.repeat(100)), sshPublicKey: key }),
    ).rejects.toThrow(/socket path too long/);
  });

  it('reapVms stops VMs recorded by pid file and leaves unrelated pids alone', async () => {
    // Prepare
    const ours = vmPaths(workDir, 'crashed');
    await mkdir(ours.vmDir, { recursive: true });
    const ourPid = fakeQemuProcess(ours.vmDir);
    await writeFile(ours.pidFile, `${ourPid}\n`);
    const recycled = vmPaths(workDir, 'recycled');
    await mkdir(recycled.vmDir, { recursive: true });
    const strangerPid = fakeQemuProcess(join(workDir, 'elsewhere'));
    await writeFile(recycled.pidFile, `${strangerPid}\n`);
    await sleep(100);

    // Act
    const reaped = await reapVms(workDir, { graceSeconds: 1 });

    // Assess
    expect(reaped).toEqual(['crashed']);
    expect(alive(ourPid)).toBe(false);
    expect(alive(strangerPid)).toBe(true);
    await expect(readFile(ours.pidFile)).rejects.toThrow();
    process.kill(strangerPid, 'SIGKILL');
  });

  it('reapVms on a work dir without VMs does nothing', async () => {
    expect(await reapVms(join(workDir, 'none'))).toEqual([]);
    expect(reapVmsSync(join(workDir, 'none'))).toEqual([]);
  });
});
