/**
 * Boot the base image (or any qcow2) by hand, e.g. for an Ansible converge over SSH.
 *
 *   npx tsx local/qemu/cli.ts up <id> [--image PATH] [--architecture x86_64|arm64] [--memory MiB] [--cpus N] [--disk GiB] [--work-dir DIR]
 *   npx tsx local/qemu/cli.ts exec <id> [--work-dir DIR] -- <command…>   (through the guest agent)
 *   npx tsx local/qemu/cli.ts down <id> [--work-dir DIR] [--remove]
 *   npx tsx local/qemu/cli.ts list [--work-dir DIR]
 *   npx tsx local/qemu/cli.ts reap [--work-dir DIR]                       (stop every VM of the work dir)
 *
 * Defaults: image `.cache/base/debian-12.qcow2` (with `--architecture arm64`:
 * `.cache/base/debian-12-arm64.qcow2`, booted by `qemu-system-aarch64 -machine virt`; give it a
 * `--timeout` of 1800), work dir `.factory/qemu`, 2048 MiB, 2 vCPUs.
 * `up` waits for the guest agent and SSH, then prints one JSON object: the VM record plus
 * `privateKeyPath`, `ssh` (a ready command line), `ansibleInventory` (an INI host line) and
 * `inventoryPath` (`<vmDir>/inventory.ini`, group `factory`, ready for `ansible-playbook -i`).
 * Exit codes: 0 ok, 1 failure, 2 usage.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isArchitecture } from '#commons/core/architectures.js';
import { BASE_NAME } from '#local/sources.js';
import { guestExec, waitForAgent } from './guest-agent.js';
import { ensureSshKeyPair, sshOptions, waitForSsh } from './ssh.js';
import { launchVm, listVms, readVm, reapVms, stopVm } from './vm.js';

const USAGE =
  'usage: cli.ts up|exec|down|list|reap [id] [--image P] [--architecture A] [--memory MiB] [--cpus N] [--disk GiB] [--work-dir D]';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      image: { type: 'string' },
      architecture: { type: 'string', default: 'x86_64' },
      'work-dir': { type: 'string', default: '.factory/qemu' },
      memory: { type: 'string', default: '2048' },
      cpus: { type: 'string', default: '2' },
      disk: { type: 'string' },
      timeout: { type: 'string', default: '600' },
      remove: { type: 'boolean', default: false },
    },
  });
  const [command, id, ...rest] = positionals;
  const workDir = resolve(values['work-dir']);
  const timeoutSeconds = Number(values.timeout);
  const { architecture } = values;
  if (!isArchitecture(architecture)) {
    process.stderr.write(`--architecture must be x86_64 or arm64, got ${architecture}\n${USAGE}\n`);
    return 2;
  }

  switch (command) {
    case 'up': {
      if (id === undefined) break;
      const key = await ensureSshKeyPair(resolve(workDir, 'keys'));
      const options: Parameters<typeof launchVm>[0] = {
        image: values.image ?? `.cache/base/${BASE_NAME[architecture]}.qcow2`,
        architecture,
        id,
        workDir,
        sshPublicKey: key.publicKey,
        memoryMiB: Number(values.memory),
        cpus: Number(values.cpus),
      };
      if (values.disk !== undefined) options.diskGiB = Number(values.disk);
      const vm = await launchVm(options);
      // Ctrl-C while waiting: do not leave this VM behind.
      const abort = (): void => {
        process.kill(vm.pid, 'SIGKILL');
        process.exit(130);
      };
      process.once('SIGINT', abort);
      process.once('SIGTERM', abort);
      try {
        await waitForAgent(vm.qgaSocket, timeoutSeconds);
        const agentSeconds = (Date.now() - vm.startedAt) / 1000;
        const target = { port: vm.sshPort, user: vm.sshUser, privateKeyPath: key.privateKeyPath };
        await waitForSsh(target, timeoutSeconds);
        const sshSeconds = (Date.now() - vm.startedAt) / 1000;
        const ssh = ['ssh', ...sshOptions(key.privateKeyPath, vm.sshPort), `${vm.sshUser}@127.0.0.1`].join(
          ' ',
        );
        const ansibleInventory =
          `${vm.id} ansible_host=127.0.0.1 ansible_port=${vm.sshPort} ansible_user=${vm.sshUser} ` +
          `ansible_ssh_private_key_file=${key.privateKeyPath} ansible_host_key_checking=false ` +
          `ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'`;
        const inventoryPath = join(vm.vmDir, 'inventory.ini');
        await writeFile(inventoryPath, `[factory]\n${ansibleInventory}\n`);
        const out = {
          ...vm,
          privateKeyPath: key.privateKeyPath,
          agentSeconds,
          sshSeconds,
          ssh,
          ansibleInventory,
          inventoryPath,
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.off('SIGINT', abort);
        process.off('SIGTERM', abort);
        return 0;
      } catch (error) {
        await stopVm(vm);
        throw error;
      }
    }
    case 'exec': {
      const vm = id === undefined ? undefined : await readVm(workDir, id);
      if (vm === undefined || rest.length === 0) break;
      const [path, ...args] = rest as [string, ...string[]];
      const result = await guestExec(vm.qgaSocket, path, args, { timeoutSeconds });
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      return result.exitCode ?? 1;
    }
    case 'down': {
      const vm = id === undefined ? undefined : await readVm(workDir, id);
      if (vm === undefined) break;
      await stopVm(vm, { removeFiles: values.remove });
      return 0;
    }
    case 'list': {
      process.stdout.write(`${JSON.stringify(await listVms(workDir), null, 2)}\n`);
      return 0;
    }
    case 'reap': {
      const reaped = await reapVms(workDir);
      process.stdout.write(`${JSON.stringify({ reaped })}\n`);
      return 0;
    }
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(1);
  },
);
