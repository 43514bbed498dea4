import { execFile } from 'node:child_process';
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { FactoryError } from '#commons/errors.js';

const run = promisify(execFile);

/** An SSH key pair on disk (OpenSSH formats). */
export interface SshKeyPair {
  /** private key path (mode 0600), for `ssh -i` and Ansible's `ansible_ssh_private_key_file` */
  privateKeyPath: string;
  /** public key path (`<private>.pub`) */
  publicKeyPath: string;
  /** the public key line, `ssh-ed25519 AAAA… comment`, for cloud-init `ssh_authorized_keys` */
  publicKey: string;
}

/**
 * Returns the ed25519 key pair `<dir>/<name>`, generating it with `ssh-keygen -t ed25519 -N ''`
 * when it does not exist yet (an existing pair is reused, so VMs of one work dir share a key).
 * @param dir directory for the key files (created, mode 0700)
 * @param name file name of the private key; default `id_ed25519`
 * @param comment key comment; default `image-factory`
 * @throws Error when ssh-keygen (package openssh-client) is missing or fails
 */
export async function ensureSshKeyPair(
  dir: string,
  name = 'id_ed25519',
  comment = 'image-factory',
): Promise<SshKeyPair> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = join(dir, name);
  const publicKeyPath = `${privateKeyPath}.pub`;
  const exists = await Promise.all([access(privateKeyPath), access(publicKeyPath)]).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await rm(privateKeyPath, { force: true });
    await rm(publicKeyPath, { force: true });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', privateKeyPath]);
  }
  const publicKey = (await readFile(publicKeyPath, 'utf8')).trim();
  return { privateKeyPath, publicKeyPath, publicKey };
}

/** `ssh` options for throw-away VMs: key only, no host key pinning (host keys are new per VM). */
export function sshOptions(privateKeyPath: string, port: number): string[] {
  return [
    '-i',
    privateKeyPath,
    '-p',
    String(port),
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
  ];
}

export interface SshTarget {
  /** forwarded host port on 127.0.0.1 (`Vm.sshPort`) */
  port: number;
  /** login user (`Vm.sshUser`) */
  user: string;
  privateKeyPath: string;
  /** default 127.0.0.1 */
  host?: string;
}

/**
 * Runs `command` (a remote shell string) over ssh.
 * @param timeoutSeconds kill ssh after this long (seconds); default 120
 * @returns exit code and output; never throws on a non-zero exit
 */
export async function runSsh(
  target: SshTarget,
  command: string,
  timeoutSeconds = 120,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const args = [
    ...sshOptions(target.privateKeyPath, target.port),
    `${target.user}@${target.host ?? '127.0.0.1'}`,
    command,
  ];
  try {
    const { stdout, stderr } = await run('ssh', args, { timeout: timeoutSeconds * 1000 });
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return {
      exitCode: typeof failed.code === 'number' ? failed.code : 255,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? String(error),
    };
  }
}

/** SSH did not accept the key within the allowed time. */
export class SshNotReady extends FactoryError {
  constructor(message: string) {
    super('SshNotReady', message);
  }
}

/**
 * Waits until `ssh … true` succeeds with the key (sshd up, cloud-init has created the user and
 * installed the key).
 * @param timeoutSeconds overall bound (seconds)
 * @returns seconds waited
 * @throws SshNotReady when it has not succeeded within `timeoutSeconds`
 */
export async function waitForSsh(target: SshTarget, timeoutSeconds: number): Promise<number> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < timeoutSeconds * 1000) {
    const result = await runSsh(target, 'true', 15);
    if (result.exitCode === 0) return (Date.now() - started) / 1000;
    last = result.stderr.trim();
    await sleep(1000);
  }
  throw new SshNotReady(
    `ssh ${target.user}@127.0.0.1:${target.port} not ready within ${timeoutSeconds} s: ${last}`,
  );
}
