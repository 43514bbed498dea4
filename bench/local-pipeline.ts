/**
 * Benchmark of the local pipeline: `npm run bench:local -- [--runs N] [--image web] [--state-dir DIR]`.
 * `--image` is the image definition the pipeline `bench` bakes (default `web`, the heaviest shipped one).
 * `--summary FILE` (repeatable) reads run summaries saved by `npm run factory -- --summary-json FILE`
 * instead of running the pipeline.
 *
 * Runs the local factory N times (default 1) and prints, per state, the median wall time in
 * seconds over the runs, then the orchestration overhead: everything except bake, boot and probe,
 * as seconds and as a share of the execution's wall time. Figures, not assertions: the machine is
 * noisy, so quote medians.
 *
 * - bake   = BakeImage
 * - boot   = LaunchTestInstance + CheckInstanceOnline + WaitForInstanceOnline (+ IsInstanceOnline)
 * - probe  = ProbeTestInstance + WaitForProbe + CheckProbeResult (+ IsProbeComplete)
 * - the rest (PrepareBuild incl. the cached base image check, FindCandidateImage, terminate,
 *   promote, retention, notify, and the time between states) is orchestration overhead.
 *
 * Then the bake profile (bench/bake-profile.ts), medians over the runs whose bake directory is
 * still there: Packer's phases, each Ansible role, and the slowest tasks.
 */
import '#local/compat.js';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type LocalRunSummary, runLocalFactory } from '#local/factory.js';
import { ansibleTasks, bakePhases, secondsPerRole, type TaskTiming } from './bake-profile.js';

const BAKE = ['BakeImage'];
const BOOT = ['LaunchTestInstance', 'CheckInstanceOnline', 'WaitForInstanceOnline', 'IsInstanceOnline'];
const PROBE = ['ProbeTestInstance', 'WaitForProbe', 'CheckProbeResult', 'IsProbeComplete'];

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Seconds spent in the given states of one run. */
export function secondsIn(summary: Pick<LocalRunSummary, 'timings'>, states: readonly string[]): number {
  return summary.timings
    .filter((timing) => states.includes(timing.state))
    .reduce((sum, t) => sum + t.seconds, 0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '1' },
      image: { type: 'string', default: 'web' },
      'state-dir': { type: 'string', default: '.factory-bench' },
      summary: { type: 'string', multiple: true },
    },
  });
  const summaries: LocalRunSummary[] = [];
  for (const file of values.summary ?? []) {
    const summary = JSON.parse(await readFile(file, 'utf8')) as LocalRunSummary;
    if (summary.status !== 'SUCCEEDED')
      throw new Error(`${file}: run ${summary.status}, not a benchmark run`);
    summaries.push(summary);
  }
  const runs = summaries.length > 0 ? summaries.length : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a whole number ≥ 1, got ${values.runs}`);
  for (let index = summaries.length; index < runs; index += 1) {
    const summary = await runLocalFactory({
      pipeline: 'bench',
      imageDefinition: values.image,
      channel: 'stable',
      baseImage: 'debian-12',
      stateDir: values['state-dir'],
      cloneCheck: false,
      write: () => {},
    });
    if (summary.status !== 'SUCCEEDED')
      throw new Error(`run ${index + 1} ${summary.status}: ${summary.error?.Cause}`);
    summaries.push(summary);
    process.stdout.write(`run ${index + 1}/${runs}: ${summary.executionSeconds.toFixed(1)} s\n`);
  }
  const states = [...new Set(summaries.flatMap((summary) => summary.timings.map((timing) => timing.state)))];
  process.stdout.write(`\nper-state wall time, median of ${runs} run(s) (s):\n`);
  for (const state of states) {
    const seconds = median(summaries.map((summary) => secondsIn(summary, [state])));
    process.stdout.write(`  ${state.padEnd(24)} ${seconds.toFixed(2).padStart(9)}\n`);
  }
  const execution = median(summaries.map((summary) => summary.executionSeconds));
  const bake = median(summaries.map((summary) => secondsIn(summary, BAKE)));
  const boot = median(summaries.map((summary) => secondsIn(summary, BOOT)));
  const probe = median(summaries.map((summary) => secondsIn(summary, PROBE)));
  const overheads = summaries.map(
    (summary) =>
      summary.executionSeconds -
      secondsIn(summary, BAKE) -
      secondsIn(summary, BOOT) -
      secondsIn(summary, PROBE),
  );
  const overhead = median(overheads);
  const share = median(
    overheads.map((value, index) => value / (summaries[index] as LocalRunSummary).executionSeconds),
  );
  process.stdout.write(
    [
      '',
      `execution  ${execution.toFixed(1)} s (median)`,
      `bake       ${bake.toFixed(1)} s`,
      `boot       ${boot.toFixed(1)} s`,
      `probe      ${probe.toFixed(1)} s`,
      `overhead   ${overhead.toFixed(1)} s = ${(share * 100).toFixed(1)} % of the execution (median share)`,
      '',
    ].join('\n'),
  );
  await printBakeProfile(summaries.flatMap((summary) => (summary.bakeDir ? [summary.bakeDir] : [])));
}

/** Prints the bake phases, roles and slowest tasks, as medians over the runs' bake directories. */
async function printBakeProfile(bakeDirs: readonly string[]): Promise<void> {
  const phases: Array<Map<string, number>> = [];
  const roles: Array<Map<string, number>> = [];
  const tasks: Array<Map<string, number>> = [];
  for (const dir of bakeDirs) {
    let log: string;
    try {
      log = await readFile(path.join(dir, 'packer.log'), 'utf8');
    } catch {
      continue; // the build directory was removed since
    }
    phases.push(new Map(bakePhases(log).map((phase) => [phase.phase, phase.seconds])));
    const junitDir = path.join(dir, 'ansible-junit');
    const files = await readdir(junitDir).catch(() => [] as string[]);
    const timings: TaskTiming[] = [];
    for (const file of files.filter((name) => name.endsWith('.xml')))
      timings.push(...ansibleTasks(await readFile(path.join(junitDir, file), 'utf8')));
    roles.push(
      new Map(secondsPerRole(timings).map((role) => [`${role.role} (${role.tasks} tasks)`, role.seconds])),
    );
    tasks.push(new Map(timings.map((task) => [`${task.role} : ${task.task}`, task.seconds])));
  }
  if (phases.length === 0) return;
  const medians = (maps: Array<Map<string, number>>): Array<[string, number]> =>
    [...new Set(maps.flatMap((map) => [...map.keys()]))].map((key) => [
      key,
      median(maps.map((map) => map.get(key) ?? 0)),
    ]);
  const print = (title: string, rows: Array<[string, number]>): void => {
    process.stdout.write(`\n${title}, median of ${phases.length} bake(s) (s):\n`);
    for (const [name, seconds] of rows)
      process.stdout.write(`  ${name.slice(0, 72).padEnd(72)} ${seconds.toFixed(1).padStart(7)}\n`);
  };
  print('bake phases', medians(phases));
  print('ansible roles', medians(roles));
  print(
    'slowest ansible tasks',
    medians(tasks)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
