/**
 * Helpers of the e2e stage: run the local factory CLI as a user would, converge an image
 * definition's playbook on a VM, read Ansible's output (recap, tasks per role), list live qemu
 * processes. No assertions here.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { LocalRunSummary } from '#local/factory.js';
import { PROJECT_ROOT } from '#local/process.js';
import type { SshKeyPair } from '#local/qemu/ssh.js';
import type { Vm } from '#local/qemu/vm.js';

export const run = promisify(execFile);

/** Totals of the single host in an ansible-playbook PLAY RECAP. */
export interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

/**
 * Totals of the last PLAY RECAP in ansible-playbook output (also inside Packer's log, where each
 * line carries Packer's prefixes). Pure.
 * @throws Error when the output has no recap.
 */
export function parseRecap(output: string): Recap {
  const matches = [...output.matchAll(/ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/g)];
  const match = matches.at(-1);
  if (match === undefined)
    throw new Error(`no PLAY RECAP in ansible-playbook output:\n${output.slice(-2000)}`);
  const [, ok, changed, unreachable, failed] = match.map(Number) as [number, number, number, number, number];
  return { ok, changed, unreachable, failed };
}

/**
 * Names of the tasks of `role` that ansible-playbook announced (`TASK [<role> : <name>]` lines,
 * also inside Packer's log with its prefixes), in order. Skipped or run, a task the play reached
 * is listed; a role the play never entered has none. Pure.
 */
export function roleTasks(output: string, role: string): string[] {
  const escaped = role.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return [...output.matchAll(new RegExp(`TASK \\[${escaped} : ([^\\]]+)\\]`, 'g'))].map(
    (match) => match[1] as string,
  );
}

/** pids of live qemu-system processes whose command line names `dir` (and not `except`). */
export function qemuPidsUnder(dir: string, except?: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('qemu-system') && cmdline.includes(dir) && !(except && cmdline.includes(except)))
        pids.push(Number(entry));
    } catch {
      // the process ended while scanning
    }
  }
  return pids;
}

/**
 * Runs `local/cli.ts` (what `npm run factory` runs) with `args` plus `--summary-json`.
 * @returns its exit status, the run summary it wrote and its stdout.
 */
export async function runFactoryCli(
  stateDir: string,
  args: string[],
): Promise<{ code: number; summary: LocalRunSummary; stdout: string }> {
  const summaryFile = path.join(stateDir, `summary-${Date.now()}.json`);
  const child = run(
    process.execPath,
    ['--import', 'tsx', 'local/cli.ts', '--state-dir', stateDir, '--summary-json', summaryFile, ...args],
    { cwd: PROJECT_ROOT, maxBuffer: 256 * 1024 * 1024 },
  );
  let code = 0;
  let stdout = '';
  try {
    stdout = (await child).stdout;
  } catch (error) {
    const failure = error as { code?: number; stdout?: string };
    code = failure.code ?? -1;
    stdout = failure.stdout ?? '';
  }
  const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as LocalRunSummary;
  return { code, summary, stdout };
}

/**
 * Runs the image definition's playbook (`ansible/images/<definition>.yml`, what the bake plays)
 * against `vm` over SSH, with the extra variables Packer's ansible provisioner passes for the
 * local backend (packer/build.pkr.hcl).
 * @throws Error with the output's tail when ansible-playbook fails.
 */
export async function converge(
  vm: Vm,
  key: SshKeyPair,
  workDir: string,
  definition: string,
  extraVars: string[],
): Promise<{ recap: Recap; output: string }> {
  const inventory = path.join(workDir, `${vm.id}.ini`);
  await writeFile(
    inventory,
    [
      '[factory]',
      `${vm.id} ansible_host=127.0.0.1 ansible_port=${vm.sshPort} ansible_user=${vm.sshUser}` +
        ` ansible_ssh_private_key_file=${key.privateKeyPath} ansible_host_key_checking=false` +
        ` ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'`,
      '',
    ].join('\n'),
  );
  const args = [path.join(PROJECT_ROOT, 'ansible', 'images', `${definition}.yml`), '-i', inventory];
  for (const value of extraVars) args.push('-e', value);
  const env = {
    ...process.env,
    ANSIBLE_CONFIG: path.join(PROJECT_ROOT, 'ansible', 'ansible.cfg'),
    ANSIBLE_NOCOLOR: '1',
  };
  try {
    const { stdout } = await run(path.join(PROJECT_ROOT, '.cache', 'venv', 'bin', 'ansible-playbook'), args, {
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
