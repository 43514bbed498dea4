import { execFile } from 'node:child_process';
import { copyFile, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { type Architecture, DEFAULT_ARCHITECTURE } from '#commons/core/architectures.js';
import { FactoryError } from '#commons/errors.js';
import { buildQemuArgs, QEMU_ARCHITECTURES } from './qemu-args.js';
import { createSeedIso, DEFAULT_USER } from './seed.js';
import { type Vm, vmPaths } from './vm-dir.js';
import { isOurQemu, readPid } from './vm-process.js';

// The VM API in one import: the command line, the directory and record, QMP, and the process's life.
export { buildQemuArgs, QEMU_ARCHITECTURES, type QemuArchitecture, type QemuArgsInput } from './qemu-args.js';
export { qmp } from './qmp.js';
export { listVms, readVm, type Vm, vmPaths } from './vm-dir.js';
export { isVmRunning, reapVms, reapVmsSync, type StopVmOptions, stopVm, VmStopFailed } from './vm-process.js';

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
  /** guest architecture, the image's; default x86_64 (arm64: emulated, several times slower) */
  architecture?: Architecture;
  /** QEMU binary; default the architecture's (`QEMU_ARCHITECTURES`: `qemu-system-x86_64`, `qemu-system-aarch64`) */
  qemuBinary?: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

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
  await createOverlay(image, paths.overlayPath, options.diskGiB);

  const user = options.user ?? DEFAULT_USER;
  const keys = Array.isArray(options.sshPublicKey) ? options.sshPublicKey : [options.sshPublicKey];
  const seed: Parameters<typeof createSeedIso>[1] = { instanceId: id, sshPublicKeys: keys, user };
  if (options.extraCloudConfig !== undefined) seed.extraCloudConfig = options.extraCloudConfig;
  await createSeedIso(paths.seedPath, seed);
  const architecture = options.architecture ?? DEFAULT_ARCHITECTURE;
  const { firmware, binary } = QEMU_ARCHITECTURES[architecture];
  // Each UEFI machine gets its own variable store, as the firmware writes boot entries into it.
  if (firmware) await copyFile(firmware.vars, paths.efiVarsPath);

  const qemu = options.qemuBinary ?? binary;
  for (let attempt = 1; ; attempt++) {
    const sshPort = await findFreePort();
    const args = buildQemuArgs({
      id,
      architecture,
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
      ...(architecture === DEFAULT_ARCHITECTURE ? {} : { architecture }),
    };
    await writeFile(paths.recordPath, `${JSON.stringify(vm, null, 2)}\n`);
    return vm;
  }
}

/**
 * Creates the VM's copy-on-write disk: a qcow2 overlay at `overlayPath` backed by `image` (which is
 * never written), grown to `diskGiB` GiB when given.
 * @throws the `qemu-img` error when the image cannot be read or the overlay cannot be created
 */
async function createOverlay(image: string, overlayPath: string, diskGiB: number | undefined): Promise<void> {
  const createArgs = [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-F',
    await imageFormat(image),
    '-b',
    image,
    overlayPath,
  ];
  if (diskGiB !== undefined) createArgs.push(`${diskGiB}G`);
  await run('qemu-img', createArgs);
}

async function imageFormat(image: string): Promise<string> {
  const { stdout } = await run('qemu-img', ['info', '--output=json', image]);
  return (JSON.parse(stdout) as { format: string }).format;
}
