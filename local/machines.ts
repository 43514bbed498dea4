import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Architecture,
  DEFAULT_ARCHITECTURE,
  imageArchitecture,
  isArchitecture,
} from '#commons/core/architectures.js';
import { TAG, TEST_INSTANCE_ROLE } from '#commons/core/tags.js';
import type { CommandResult, CommandRunner, LaunchRequest, MachineLauncher } from '#commons/ports.js';
import type { LocalCatalog } from '#local/catalog.js';
import { GuestAgentSession, toResult } from '#local/qemu/guest-agent.js';
import { isVmRunning, launchVm, listVms, readVm, stopVm, type Vm } from '#local/qemu/vm.js';

/** What the launcher records beside each VM (`<workDir>/vms/<id>/instance.json`). */
interface InstanceRecord {
  instanceId: string;
  imageId: string;
  idempotencyToken: string;
  tags: Record<string, string>;
  /** ISO 8601 launch time. */
  launchedAt: string;
}

/**
 * `MachineLauncher` on qemu: the local counterpart of EC2 `RunInstances` / `TerminateInstances` and
 * of SSM's "Online" state. A test machine is a VM booted from an overlay on the catalog image's
 * disk (the image itself is never written), with a NoCloud seed carrying the launch user and SSH
 * key, as EC2 user data would. Ready = the qemu guest agent answers `guest-ping`.
 *
 * Instance ids are `local-i-` + 17 hex digits. A launch repeated with the same idempotency token
 * while its VM runs returns that VM (EC2 `ClientToken` semantics).
 */
export class QemuMachineLauncher implements MachineLauncher {
  constructor(
    private readonly catalog: LocalCatalog,
    private readonly options: {
      /** Directory holding `vms/<id>/`. Keep it short: unix socket paths are limited to 107 bytes. */
      workDir: string;
      /** Public key line authorised for the launch user. */
      sshPublicKey: string;
      /** Guest memory in MiB (default 2048). */
      memoryMiB?: number;
      /** vCPUs (default 2). */
      cpus?: number;
      /**
       * Seconds `isReady` keeps asking the guest agent before it answers false (default 0: one
       * ask). The local runner sets it to its online poll interval and skips the ASL's Wait
       * (`local/execution.ts`), so a boot is seen within a second instead of at the next poll,
       * while the loop's budget (attempts × interval) stays what it was.
       */
      readinessWaitSeconds?: number;
    },
  ) {}

  async launch(request: LaunchRequest): Promise<{ instanceId: string }> {
    for (const record of await this.records()) {
      if (record.instance.idempotencyToken === request.idempotencyToken && isVmRunning(record.vm)) {
        return { instanceId: record.instance.instanceId };
      }
    }
    const instanceId = `local-i-${randomBytes(9).toString('hex').slice(0, 17)}`;
    const vm = await launchVm({
      image: this.catalog.diskPath(request.imageId),
      architecture: request.architecture ?? (await this.architectureOf(request.imageId)),
      id: instanceId,
      workDir: this.options.workDir,
      sshPublicKey: this.options.sshPublicKey,
      memoryMiB: this.options.memoryMiB ?? 2048,
      cpus: this.options.cpus ?? 2,
    });
    const instance: InstanceRecord = {
      instanceId,
      imageId: request.imageId,
      idempotencyToken: request.idempotencyToken,
      tags: {
        [TAG.pipeline]: request.pipeline,
        [TAG.buildId]: request.buildId,
        [TAG.execution]: request.executionName,
        [TAG.role]: TEST_INSTANCE_ROLE,
      },
      launchedAt: new Date().toISOString(),
    };
    await writeFile(path.join(vm.vmDir, 'instance.json'), `${JSON.stringify(instance, null, 2)}\n`);
    return { instanceId };
  }

  /**
   * The architecture a catalog image boots on (`imageArchitecture`: its `factory:architecture`
   * tag, x86_64 for images from before architectures), for a launch that names none (the clone check).
   * @throws Error for an image of an architecture the local backend does not know.
   */
  private async architectureOf(imageId: string): Promise<Architecture> {
    const record = await this.catalog.readImage(imageId);
    const architecture = record ? imageArchitecture(record) : undefined;
    if (architecture === undefined || isArchitecture(architecture))
      return architecture ?? DEFAULT_ARCHITECTURE;
    throw new Error(
      `image ${imageId} is of architecture ${architecture}, which the local backend cannot boot`,
    );
  }

  async isReady(instanceId: string): Promise<boolean> {
    const deadline = Date.now() + (this.options.readinessWaitSeconds ?? 0) * 1000;
    for (;;) {
      const vm = await readVm(this.options.workDir, instanceId);
      if (!vm || !isVmRunning(vm)) return false;
      try {
        const session = await GuestAgentSession.open(vm.qgaSocket, 3);
        try {
          await session.ping();
          return true;
        } finally {
          session.close();
        }
      } catch {
        if (Date.now() >= deadline) return false;
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
      }
    }
  }

  async terminate(instanceIds: readonly string[]): Promise<string[]> {
    const terminated: string[] = [];
    for (const instanceId of instanceIds) {
      const vm = await readVm(this.options.workDir, instanceId);
      if (!vm) continue;
      await stopVm(vm, { graceSeconds: 5, removeFiles: true });
      terminated.push(instanceId);
    }
    return terminated;
  }

  async listByBuildId(buildId: string): Promise<string[]> {
    return (await this.records())
      .filter(({ vm, instance }) => instance.tags[TAG.buildId] === buildId && isVmRunning(vm))
      .map(({ instance }) => instance.instanceId);
  }

  /** Catalog images referenced by a running VM: the local `DescribeImageReferences`. */
  async imagesInUse(imageIds: readonly string[]): Promise<string[]> {
    const running = (await this.records()).filter(({ vm }) => isVmRunning(vm));
    return imageIds.filter((imageId) => running.some(({ instance }) => instance.imageId === imageId));
  }

  /** The VM behind a running instance (for SSH and the guest agent). */
  async vm(instanceId: string): Promise<Vm> {
    const vm = await readVm(this.options.workDir, instanceId);
    if (!vm || !isVmRunning(vm)) throw new Error(`instance ${instanceId} is not running`);
    return vm;
  }

  private async records(): Promise<Array<{ vm: Vm; instance: InstanceRecord }>> {
    const result: Array<{ vm: Vm; instance: InstanceRecord }> = [];
    for (const vm of await listVms(this.options.workDir)) {
      try {
        const instance = JSON.parse(
          await readFile(path.join(vm.vmDir, 'instance.json'), 'utf8'),
        ) as InstanceRecord;
        result.push({ vm, instance });
      } catch {
        // A VM without an instance record is not a test machine (or its launch did not finish).
      }
    }
    return result;
  }
}

/**
 * `CommandRunner` over the qemu guest agent: the local counterpart of SSM Run Command.
 * `startProbe` runs the image's probe suite with `guest-exec` (asynchronously, output captured);
 * the command id is `<guest pid>`; `readProbe` maps `guest-exec-status` onto the SSM statuses.
 * Source: QEMU Guest Agent Protocol Reference (`guest-exec`, `guest-exec-status`).
 */
export class GuestAgentCommandRunner implements CommandRunner {
  constructor(
    private readonly launcher: QemuMachineLauncher,
    /** Probe suite path inside the image and its arguments. */
    private readonly command: { path: string; args: string[] },
    /**
     * Seconds `readProbe` waits for a running probe to finish before it answers InProgress
     * (default 0), like `readinessWaitSeconds` of the launcher: set to the local probe poll
     * interval, with the ASL's WaitForProbe skipped.
     */
    private readonly resultWaitSeconds = 0,
  ) {}

  async startProbe(
    instanceId: string,
    options: { timeoutSeconds: number; buildId: string },
  ): Promise<{ commandId: string }> {
    const vm = await this.launcher.vm(instanceId);
    const session = await GuestAgentSession.open(vm.qgaSocket, 10);
    try {
      // `timeout` bounds the suite on the machine, like SSM's executionTimeout (seconds).
      const { pid } = (await session.execute('guest-exec', {
        path: '/usr/bin/timeout',
        arg: [String(options.timeoutSeconds), this.command.path, ...this.command.args],
        'capture-output': true,
      })) as { pid: number };
      return { commandId: String(pid) };
    } finally {
      session.close();
    }
  }

  async readProbe(commandId: string, instanceId: string): Promise<CommandResult> {
    const vm = await this.launcher.vm(instanceId);
    const deadline = Date.now() + this.resultWaitSeconds * 1000;
    const session = await GuestAgentSession.open(vm.qgaSocket, 10);
    try {
      let status = (await session.execute('guest-exec-status', { pid: Number(commandId) })) as Parameters<
        typeof toResult
      >[0];
      while (!status.exited && Date.now() < deadline) {
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
        status = (await session.execute('guest-exec-status', { pid: Number(commandId) })) as typeof status;
      }
      if (!status.exited) return { status: 'InProgress', stdout: '', stderr: '' };
      const result = toResult(status, 0);
      // coreutils `timeout` exits 124 when it had to stop the command.
      if (result.exitCode === 124)
        return { status: 'TimedOut', exitCode: 124, stdout: result.stdout, stderr: result.stderr };
      return {
        status: result.exitCode === 0 ? 'Success' : 'Failed',
        ...(result.exitCode === undefined ? {} : { exitCode: result.exitCode }),
        stdout: result.stdout,
        stderr: result.stderr,
      };
    } finally {
      session.close();
    }
  }
}
