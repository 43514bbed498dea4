import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Architecture } from '#commons/core/architectures.js';

/**
 * A VM's directory `<workDir>/vms/<id>/` and the record (`vm.json`) kept in it; see `vm.ts` for
 * the files' roles.
 */

/** A running VM (also stored as `vm.json` in its directory). */
export interface Vm {
  id: string;
  /** pid of the daemonized QEMU process */
  pid: number;
  /** host TCP port on 127.0.0.1 forwarded to guest port 22 */
  sshPort: number;
  /** login user (cloud-init) */
  sshUser: string;
  /** host unix socket of the guest agent channel (org.qemu.guest_agent.0) */
  qgaSocket: string;
  /** host unix socket of QMP */
  qmpSocket: string;
  /** serial console output (ttyS0, arm64 ttyAMA0: firmware, GRUB, kernel, getty) */
  consoleLog: string;
  /** copy-on-write disk of this VM */
  overlayPath: string;
  /** image the overlay is backed by */
  image: string;
  vmDir: string;
  pidFile: string;
  /** epoch milliseconds when QEMU was started */
  startedAt: number;
  /** guest architecture (absent in records from before arm64: x86_64) */
  architecture?: Architecture;
}

/** Paths of one VM's files. Pure. */
export function vmPaths(workDir: string, id: string) {
  const vmDir = join(resolve(workDir), 'vms', id);
  return {
    vmDir,
    overlayPath: join(vmDir, 'overlay.qcow2'),
    seedPath: join(vmDir, 'seed.iso'),
    qgaSocket: join(vmDir, 'qga.sock'),
    qmpSocket: join(vmDir, 'qmp.sock'),
    consoleLog: join(vmDir, 'console.log'),
    pidFile: join(vmDir, 'qemu.pid'),
    recordPath: join(vmDir, 'vm.json'),
    /** The VM's UEFI variable store (a copy of the firmware's template; arm64 only). */
    efiVarsPath: join(vmDir, 'efivars.fd'),
  };
}

/** The record of VM `id` in `workDir`, or undefined when there is none. */
export async function readVm(workDir: string, id: string): Promise<Vm | undefined> {
  try {
    return JSON.parse(await readFile(vmPaths(workDir, id).recordPath, 'utf8')) as Vm;
  } catch {
    return undefined;
  }
}

/** Records of all VMs in `workDir` (running or not; see `isVmRunning`). */
export async function listVms(workDir: string): Promise<Vm[]> {
  const root = join(resolve(workDir), 'vms');
  const ids = await readdir(root).catch(() => [] as string[]);
  const vms = await Promise.all(ids.map((id) => readVm(workDir, id)));
  return vms.filter((vm): vm is Vm => vm !== undefined);
}
