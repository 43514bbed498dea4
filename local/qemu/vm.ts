import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { FactoryError } from '#commons/errors.js';
import { JsonLineSocket } from './json-socket.js';
import { createSeedIso, DEFAULT_USER } from './seed.js';

const run = promisify(execFile);

/**
 * Boots throw-away VMs from a base or candidate qcow2 with QEMU, the local counterpart of
 * `ec2:RunInstances` / `TerminateInstances`.
 *
 * Each VM lives in `<workDir>/vms/<id>/`: `overlay.qcow2` (backing file = the image, which is never
 * written), `seed.iso` (NoCloud user data), `qga.sock` (guest agent), `qmp.sock` (QEMU machine
 * protocol), `console.log` (serial console), `qemu.pid` and `vm.json` (the returned record).
 * QEMU runs daemonized (`-daemonize -pidfile`): it survives this process, so callers stop it with
 * `stopVm`, and `reapVms(workDir)` kills whatever a crash or Ctrl-C left behind.
 *
 * This host's /dev/kvm cannot run a guest kernel, so the accelerator is TCG
 * (`-accel tcg,thread=multi`, one host thread per vCPU).
 */

/** The QEMU process did not start, or an id is in use. */
export class VmLaunchFailed extends FactoryError {
  constructor(message: string) {
    super('VmLaunchFailed', message);
  }
}

/** The QEMU process could not be stopped (still alive after SIGKILL). */
export class VmStopFailed extends FactoryError {
  constructor(message: string) {
    super('VmStopFailed', message);
  }
}

export interface LaunchVmOptions {
  /** qcow2 (or raw) image the VM boots from; used read-only as the overlay's backing file */
  image: string;
  /** VM id: `[A-Za-z0-9][A-Za-z0-9._-]{0,62}`; also the cloud-init instance-id and hostname */
  id: string;
  /** directory under which `vms/<id>/` is created */
  workDir: string;
  /** public key line(s) authorised for `user` */
  sshPublicKey: string | string[];
  /** guest memory (MiB); default 2048 */
  memoryMiB?: number;
  /** vCPUs; default 2 */
  cpus?: number;
  /** grow the overlay's virtual size to this many GiB (cloud-init growpart then grows /); default: image size */
  diskGiB?: number;
  /** login user created by cloud-init (passwordless sudo); default `factory` */
  user?: string;
  /** extra top-level cloud-config appended to the generated user-data */
  extraCloudConfig?: string;
  /** QEMU binary; default `qemu-system-x86_64` */
  qemuBinary?: string;
}

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
  /** serial console output (ttyS0: GRUB, kernel, getty) */
  consoleLog: string;
  /** copy-on-write disk of this VM */
  overlayPath: string;
  /** image the overlay is backed by */
  image: string;
  vmDir: string;
  pidFile: string;
  /** epoch milliseconds when QEMU was started */
  startedAt: number;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

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
  };
}

export interface QemuArgsInput {
  id: string;
  overlayPath: string;
  seedPath: string;
  qgaSocket: string;
  qmpSocket: string;
  consoleLog: string;
  pidFile: string;
  sshPort: number;
  memoryMiB: number;
  cpus: number;
}

/** The QEMU command line (without the binary). Pure. */
export function buildQemuArgs(input: QemuArgsInput): string[] {
  return [
    '-name',
    `guest=${input.id}`,
    '-nodefaults',
    '-no-user-config',
    '-machine',
    'q35',
    '-accel',
    'tcg,thread=multi',
    '-cpu',
    'max',
    '-smp',
    String(input.cpus),
    '-m',
    String(input.memoryMiB),
    '-display',
    'none',
    // Boot disk (BIOS → GRUB in the MBR) and the NoCloud seed, both virtio-blk. The overlay of a
    // throwaway machine ignores guest flushes (QEMU `cache=unsafe`: only a host crash loses data;
    // a clean qemu exit leaves a complete file).
    '-drive',
    `file=${input.overlayPath},if=none,id=disk0,format=qcow2,discard=unmap,cache=unsafe`,
    '-device',
    'virtio-blk-pci,drive=disk0,bootindex=0',
    '-drive',
    `file=${input.seedPath},if=none,id=seed0,format=raw,readonly=on`,
    '-device',
    'virtio-blk-pci,drive=seed0',
    // User-mode networking (NAT through the host); host 127.0.0.1:sshPort → guest :22.
    '-netdev',
    `user,id=net0,hostfwd=tcp:127.0.0.1:${input.sshPort}-:22`,
    '-device',
    'virtio-net-pci,netdev=net0',
    // Entropy for first-boot key generation.
    '-device',
    'virtio-rng-pci',
    // Guest agent channel.
    '-device',
    'virtio-serial-pci,id=vser0',
    '-chardev',
    `socket,id=qga0,path=${input.qgaSocket},server=on,wait=off`,
    '-device',
    'virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0',
    // Control and console.
    '-chardev',
    `socket,id=qmp0,path=${input.qmpSocket},server=on,wait=off`,
    '-mon',
    'chardev=qmp0,mode=control',
    '-chardev',
    `file,id=console0,path=${input.consoleLog}`,
    '-serial',
    'chardev:console0',
    '-pidfile',
    input.pidFile,
    '-daemonize',
  ];
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice). */
export async function findFreePort(): Promise<number> {
  return await new Promise<number>((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Boots a VM from `options.image` and returns as soon as QEMU runs (the guest is still booting:
 * wait with `waitForAgent(vm.qgaSocket, …)` and/or `waitForSsh(vm.sshPort, …)`).
 * @throws VmLaunchFailed on a bad id, an id whose VM is still running, a socket path longer than
 *   107 bytes, or QEMU failing to start (its stderr is in the message)
 */
export async function launchVm(options: LaunchVmOptions): Promise<Vm> {
  const { id } = options;
  if (!ID_PATTERN.test(id)) throw new VmLaunchFailed(`invalid VM id ${JSON.stringify(id)}`);
  const paths = vmPaths(options.workDir, id);
  for (const socket of [paths.qgaSocket, paths.qmpSocket]) {
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      throw new VmLaunchFailed(`socket path too long for a unix socket (${socket}); use a shorter workDir`);
    }
  }
  const previous = readPid(paths.pidFile);
  if (previous !== undefined && isOurQemu(previous, paths.vmDir)) {
    throw new VmLaunchFailed(`VM ${id} is already running (pid ${previous})`);
  }
  await rm(paths.vmDir, { recursive: true, force: true });
  await mkdir(paths.vmDir, { recursive: true });

  const image = await realpath(options.image);
  const createArgs = ['create', '-q', '-f', 'qcow2', '-F', await imageFormat(image), '-b', image];
  createArgs.push(paths.overlayPath);
  if (options.diskGiB !== undefined) createArgs.push(`${options.diskGiB}G`);
  await run('qemu-img', createArgs);

  const user = options.user ?? DEFAULT_USER;
  const keys = Array.isArray(options.sshPublicKey) ? options.sshPublicKey : [options.sshPublicKey];
  const seed: Parameters<typeof createSeedIso>[1] = { instanceId: id, sshPublicKeys: keys, user };
  if (options.extraCloudConfig !== undefined) seed.extraCloudConfig = options.extraCloudConfig;
  await createSeedIso(paths.seedPath, seed);

  const qemu = options.qemuBinary ?? 'qemu-system-x86_64';
  for (let attempt = 1; ; attempt++) {
    const sshPort = await findFreePort();
    const args = buildQemuArgs({
      id,
      ...paths,
      sshPort,
      memoryMiB: options.memoryMiB ?? 2048,
      cpus: options.cpus ?? 2,
    });
    const startedAt = Date.now();
    try {
      // With -daemonize the parent exits once the VM is set up (sockets bound, port forwarded).
      await run(qemu, args, { timeout: 60_000 });
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message).trim();
      if (attempt < 3 && /host forwarding rule|Could not set up host forwarding/i.test(stderr)) continue;
      throw new VmLaunchFailed(`qemu failed to start VM ${id}: ${stderr}`);
    }
    const pid = readPid(paths.pidFile);
    if (pid === undefined) throw new VmLaunchFailed(`qemu started VM ${id} but wrote no pid file`);
    const vm: Vm = {
      id,
      pid,
      sshPort,
      sshUser: user,
      qgaSocket: paths.qgaSocket,
      qmpSocket: paths.qmpSocket,
      consoleLog: paths.consoleLog,
      overlayPath: paths.overlayPath,
      image,
      vmDir: paths.vmDir,
      pidFile: paths.pidFile,
      startedAt,
    };
    await writeFile(paths.recordPath, `${JSON.stringify(vm, null, 2)}\n`);
    return vm;
  }
}

async function imageFormat(image: string): Promise<string> {
  const { stdout } = await run('qemu-img', ['info', '--output=json', image]);
  return (JSON.parse(stdout) as { format: string }).format;
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

/**
 * Sends one QMP command (after the greeting and `qmp_capabilities`) and returns its `return`.
 * QMP reference: QEMU docs/interop/qmp-spec.rst. `quit` may close the socket before replying;
 * that counts as success.
 * @param timeoutSeconds bound on connect and on each reply (seconds); default 5
 */
export async function qmp(
  socketPath: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutSeconds = 5,
): Promise<unknown> {
  const socket = await JsonLineSocket.connect(socketPath, timeoutSeconds);
  try {
    await socket.next((message) => 'QMP' in message, timeoutSeconds);
    socket.send({ execute: 'qmp_capabilities' });
    await socket.next((message) => 'return' in message || 'error' in message, timeoutSeconds);
    socket.send(args === undefined ? { execute: command } : { execute: command, arguments: args });
    let reply: Record<string, unknown>;
    try {
      reply = await socket.next((message) => 'return' in message || 'error' in message, timeoutSeconds);
    } catch (error) {
      if (command === 'quit') return {};
      throw error;
    }
    if ('error' in reply) throw new Error(`qmp ${command}: ${JSON.stringify(reply.error)}`);
    return reply.return;
  } finally {
    socket.close();
  }
}

function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive (not a zombie) and its command line carries `vmDir` (our -pidfile argument). */
function isOurQemu(pid: number, vmDir: string): boolean {
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
