/**
 * Benchmark of the local pipeline: `npm run bench:local -- [--runs N] [--state-dir DIR]`.
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
 */
import '#local/compat.js';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type LocalRunSummary, runLocalFactory } from '#local/factory.js';

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
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
