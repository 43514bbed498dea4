/**
 * Where a local machine's boot goes: `npm run bench:boot -- [--image FILE] [--runs N]`.
 * Boots a machine of `--image` (default: the cached Debian 12 base image, .cache/base/debian-12.qcow2,
 * as the bake's first boot does)
 * the way the local backend boots a test instance (local/qemu/vm.ts: overlay, NoCloud seed, TCG),
 * and prints, per run and as medians:
 *   - seconds from qemu start to the guest agent answering, and to an SSH login;
 *   - `systemd-analyze time`: kernel (incl. initrd) and userspace seconds;
 *   - `systemd-analyze blame`: the slowest units;
 *   - the critical chain of ssh.service and of cloud-final.service (what SSH and "cloud-init
 *     done" waited for).
 * Figures, not assertions (the machine is noisy: quote medians). The VM is always stopped.
 */
import '#local/compat.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '#local/process.js';
import { guestShell, waitForAgent } from '#local/qemu/guest-agent.js';
import { ensureSshKeyPair, waitForSsh } from '#local/qemu/ssh.js';
import { launchVm, stopVm, type Vm } from '#local/qemu/vm.js';
import { median } from './stats.js';

interface BootRun {
  agentSeconds: number;
  sshSeconds: number;
  kernelSeconds: number;
  userspaceSeconds: number;
  blame: Array<{ unit: string; seconds: number }>;
  chains: string;
  cloudInit: string;
}

/** Seconds of a systemd time span such as `1min 2.345s`, `812ms` or `3.1s`. */
export function spanSeconds(text: string): number {
  let seconds = 0;
  for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)\s*(min|ms|us|s|h)\b/g)) {
    const n = Number(value);
    seconds +=
      unit === 'h'
        ? n * 3600
        : unit === 'min'
          ? n * 60
          : unit === 'ms'
            ? n / 1000
            : unit === 'us'
              ? n / 1e6
              : n;
  }
  return seconds;
}

/** `systemd-analyze time`'s kernel and userspace spans (the initrd counts as kernel). */
export function parseAnalyzeTime(text: string): { kernelSeconds: number; userspaceSeconds: number } {
  const pick = (name: string): number => {
    const match = new RegExp(`([0-9][^+=()]*?)\\s*\\(${name}\\)`).exec(text);
    return match ? spanSeconds(match[1] as string) : 0;
  };
  return { kernelSeconds: pick('kernel') + pick('initrd'), userspaceSeconds: pick('userspace') };
}

/** `systemd-analyze blame` lines → units with seconds, slowest first. */
export function parseBlame(text: string): Array<{ unit: string; seconds: number }> {
  return text
    .split('\n')
    .map((line) =>
      /^\s*(.+?)\s+(\S+\.(?:service|mount|device|socket|target|timer|swap|path|slice|scope))\s*$/.exec(line),
    )
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ unit: match[2] as string, seconds: spanSeconds(match[1] as string) }))
    .sort((a, b) => b.seconds - a.seconds);
}

async function bootOnce(image: string, workDir: string, index: number): Promise<BootRun> {
  const keys = await ensureSshKeyPair(path.join(workDir, 'keys'));
  const started = Date.now();
  let vm: Vm | undefined;
  try {
    vm = await launchVm({ image, id: `boot-${index}`, workDir, sshPublicKey: keys.publicKey });
    await waitForAgent(vm.qgaSocket, 600);
    const agentSeconds = (Date.now() - started) / 1000;
    await waitForSsh({ port: vm.sshPort, user: vm.sshUser, privateKeyPath: keys.privateKeyPath }, 600);
    const sshSeconds = (Date.now() - started) / 1000;
    // Until the boot has finished, `systemd-analyze time` refuses to answer.
    await guestShell(
      vm.qgaSocket,
      'systemctl is-system-running --wait >/dev/null 2>&1; cloud-init status --wait >/dev/null 2>&1; true',
      {
        timeoutSeconds: 600,
      },
    );
    const time = await guestShell(vm.qgaSocket, 'systemd-analyze time');
    const blame = await guestShell(vm.qgaSocket, 'systemd-analyze blame --no-pager');
    const chains = await guestShell(
      vm.qgaSocket,
      'systemd-analyze critical-chain --no-pager ssh.service cloud-final.service qemu-guest-agent.service',
    );
    const cloudInit = await guestShell(
      vm.qgaSocket,
      // cloud-init's own per-module times, then what one Python start and cloud-init's import cost
      // (each cloud-init stage is a Python process: the gap between its unit time and its modules).
      // Timed with date(1) and awk: the base image has no /usr/bin/time (Debian's `time` package).
      `cloud-init analyze blame 2>&1 | head -25; for i in 1 2; do for code in 'pass' 'import cloudinit.cmd.main'; do s=$(date +%s.%N); python3 -c "$code"; e=$(date +%s.%N); awk -v s="$s" -v e="$e" -v c="$code" 'BEGIN { printf "python3 -c %s: %.2f s\\n", c, e - s }'; done; done 2>&1`,
    );
    return {
      cloudInit: cloudInit.stdout,
      agentSeconds,
      sshSeconds,
      ...parseAnalyzeTime(time.stdout),
      blame: parseBlame(blame.stdout),
      chains: chains.stdout,
    };
  } finally {
    if (vm) await stopVm(vm, { graceSeconds: 5 });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { image: { type: 'string' }, runs: { type: 'string', default: '1' } },
  });
  // The stable symlink scripts/build-base-image.sh keeps to the current base image.
  const image = values.image ?? path.join(PROJECT_ROOT, '.cache/base/debian-12.qcow2');
  const workDir = await mkdtemp(path.join(tmpdir(), 'bench-boot-'));
  const runs: BootRun[] = [];
  try {
    for (let index = 0; index < Number(values.runs); index++) {
      const run = await bootOnce(image, workDir, index);
      runs.push(run);
      console.log(
        `run ${index + 1}: agent ${run.agentSeconds.toFixed(1)} s, ssh ${run.sshSeconds.toFixed(1)} s, kernel ${run.kernelSeconds.toFixed(1)} s, userspace ${run.userspaceSeconds.toFixed(1)} s`,
      );
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  const med = (pick: (run: BootRun) => number) => median(runs.map(pick)).toFixed(1);
  console.log(`\nboot of ${image} (median of ${runs.length}):`);
  console.log(`  qemu start → guest agent  ${med((run) => run.agentSeconds)} s`);
  console.log(`  qemu start → SSH login    ${med((run) => run.sshSeconds)} s`);
  console.log(`  kernel + initrd           ${med((run) => run.kernelSeconds)} s`);
  console.log(`  userspace (to default)    ${med((run) => run.userspaceSeconds)} s`);
  const units = new Map<string, number[]>();
  for (const run of runs)
    for (const { unit, seconds } of run.blame) units.set(unit, [...(units.get(unit) ?? []), seconds]);
  const slowest = [...units.entries()]
    .map(([unit, seconds]) => ({ unit, seconds: median(seconds) }))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, 15);
  console.log('  slowest units (systemd-analyze blame):');
  for (const { unit, seconds } of slowest) console.log(`    ${seconds.toFixed(2).padStart(7)} s  ${unit}`);
  console.log('\ncritical chains of the last run:');
  console.log(runs.at(-1)?.chains ?? '');
  console.log('cloud-init analyze blame of the last run:');
  console.log(runs.at(-1)?.cloudInit ?? '');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
