import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FactoryError } from '#commons/errors.js';
import { qmp } from './qmp.js';
import { type Vm, vmPaths } from './vm-dir.js';

/**
 * The life of a daemonized QEMU process after launch: is it running, stop it (power-down, QMP
 * `quit`, SIGTERM, SIGKILL), and reap what a crash or Ctrl-C left behind. A process is only
 * signalled when its command line names the VM's own directory (`isOurQemu`), so a recycled pid is
 * never killed.
 */

/** The QEMU process could not be stopped (still alive after SIGKILL). */
export class VmStopFailed extends FactoryError {
  constructor(message: string) {
    super('VmStopFailed', message);
  }
}

/** True while the VM's QEMU process is alive. */
export function isVmRunning(vm: Pick<Vm, 'pid' | 'vmDir'>): boolean {
  return isOurQemu(vm.pid, vm.vmDir);
}

export interface StopVmOptions {
  /**
   * Ask the guest to power off first (ACPI `system_powerdown`) and wait this long (seconds) for
   * QEMU to exit by itself; default 0 (no guest shutdown: right for throw-away test VMs).
   */
  powerdownSeconds?: number;
  /** wait after QMP `quit`, then after SIGTERM (seconds each); default 10 */
  graceSeconds?: number;
  /** remove the VM directory (overlay, seed, logs) afterwards; default false */
  removeFiles?: boolean;
}

/**
 * Stops the VM: optional ACPI power-down, then QMP `quit`, then SIGTERM, then SIGKILL, waiting
 * `graceSeconds` after each. Idempotent: a VM that is not running is only cleaned up.
 * @throws VmStopFailed when the process is still alive after SIGKILL
 */
export async function stopVm(
  vm: Pick<Vm, 'id' | 'pid' | 'vmDir' | 'qmpSocket' | 'pidFile'>,
  options: StopVmOptions = {},
): Promise<void> {
  const grace = options.graceSeconds ?? 10;
  const alive = (): boolean => isOurQemu(vm.pid, vm.vmDir);
  if (alive() && (options.powerdownSeconds ?? 0) > 0) {
    await qmp(vm.qmpSocket, 'system_powerdown').catch(() => {});
    await waitUntil(() => !alive(), options.powerdownSeconds ?? 0);
  }
  if (alive()) {
    await qmp(vm.qmpSocket, 'quit').catch(() => {});
    await waitUntil(() => !alive(), grace);
  }
  if (alive()) {
    signal(vm.pid, 'SIGTERM');
    await waitUntil(() => !alive(), grace);
  }
  if (alive()) {
    signal(vm.pid, 'SIGKILL');
    await waitUntil(() => !alive(), 5);
  }
  if (alive()) throw new VmStopFailed(`qemu pid ${vm.pid} of VM ${vm.id} survived SIGKILL`);
  await rm(vm.pidFile, { force: true });
  if (options.removeFiles === true) await rm(vm.vmDir, { recursive: true, force: true });
}

/**
 * Stops every VM under `<workDir>/vms/` that still has a live QEMU (recorded by its pid file):
 * crash and Ctrl-C recovery. A pid is only signalled when its command line names the VM's own
 * directory, so a recycled pid is never killed.
 * @returns ids of the VMs that were stopped
 */
export async function reapVms(
  workDir: string,
  options: StopVmOptions = { graceSeconds: 3 },
): Promise<string[]> {
  const reaped: string[] = [];
  for (const id of await readdir(join(resolve(workDir), 'vms')).catch(() => [] as string[])) {
    const paths = vmPaths(workDir, id);
    const pid = readPid(paths.pidFile);
    if (pid === undefined || !isOurQemu(pid, paths.vmDir)) continue;
    await stopVm({ id, pid, ...paths }, options);
    reaped.push(id);
  }
  return reaped;
}

/**
 * Synchronous SIGKILL of every live VM under `<workDir>/vms/`, for `process.on('exit')` and
 * signal handlers where nothing asynchronous runs any more.
 * @returns ids of the VMs that were signalled
 */
export function reapVmsSync(workDir: string): string[] {
  const root = join(resolve(workDir), 'vms');
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return [];
  }
  const killed: string[] = [];
  for (const id of ids) {
    const paths = vmPaths(workDir, id);
    const pid = readPid(paths.pidFile);
    if (pid === undefined || !isOurQemu(pid, paths.vmDir)) continue;
    signal(pid, 'SIGKILL');
    rmSync(paths.pidFile, { force: true });
    killed.push(id);
  }
  return killed;
}

/** The pid in a QEMU `-pidfile`, or undefined when the file is missing or holds no pid. */
export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive (not a zombie) and its command line carries `vmDir` (our -pidfile argument). */
export function isOurQemu(pid: number, vmDir: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((arg) => arg.startsWith(`${vmDir}/`) || arg.includes(`=${vmDir}/`));
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

async function waitUntil(done: () => boolean, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}
