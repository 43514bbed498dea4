/**
 * Time and usage of one execution, from the runs of its states (`execution-history.ts`): the time
 * per phase the build report shows, and the usage its cost estimate prices (`build-cost.ts`). Pure.
 *
 * A run ends when the next state is entered (or at its exit event), so the runs partition the
 * execution's time: the phases add up to the total.
 */
import type { BuildUsage, CostDeployment } from './build-cost.js';
import type { StateRun } from './execution-history.js';

/**
 * The state that runs the Fargate Packer task (`arn:aws:states:::ecs:runTask.sync`); every other
 * Task state is a Lambda function. `tests/statemachine/report.test.ts` checks both against the ASL.
 */
export const BAKE_STATE = 'BakeImage';

/**
 * The states that open a phase of the report, in pipeline order: a state belongs to the phase of
 * the last phase-opening state entered before it (so poll loops, waits and choices count with
 * their phase, and a state added to the ASL counts with the phase it runs in).
 * `tests/statemachine/report.test.ts` checks every name against the ASL.
 */
export const PHASE_STARTS: ReadonlyArray<readonly [state: string, phase: string]> = [
  ['PrepareBuild', 'prepare'],
  [BAKE_STATE, 'bake'],
  ['LaunchTestInstance', 'boot'],
  ['ProbeTestInstance', 'probe'],
  ['DistributeImage', 'distribute'],
  ['AcquirePromotionLease', 'promote'],
  ['ApplyRetention', 'retention'],
  ['RolloutChannel', 'rollout'],
  ['NotifySuccess', 'notify'],
  ['CleanupAfterFailure', 'cleanup'],
  ['NotifyFailure', 'notify'],
];

/** The states that bound the test instance's life: launched, terminated, or cleaned up after a failure. */
export const TEST_INSTANCE_STATES = {
  launch: 'LaunchTestInstance',
  terminate: 'TerminateTestInstance',
  cleanup: 'CleanupAfterFailure',
} as const;

const seconds = (run: StateRun, now: number): number =>
  Math.max(0, ((run.exitedAt ?? now) - run.enteredAt) / 1000);

/**
 * Seconds per phase in order of first entry, over every run (a run still open counts until `now`,
 * epoch ms). States entered before the first phase-opening state count as `other`.
 */
export const timePerPhase = (
  runs: readonly StateRun[],
  now: number,
): Array<{ phase: string; seconds: number }> => {
  const starts = new Map(PHASE_STARTS);
  const totals = new Map<string, number>();
  let phase = 'other';
  for (const run of runs) {
    phase = starts.get(run.name) ?? phase;
    totals.set(phase, (totals.get(phase) ?? 0) + seconds(run, now));
  }
  return [...totals].map(([name, total]) => ({ phase: name, seconds: total }));
};

/**
 * The usage the cost estimate prices, read from the runs (epoch ms; open runs count until `now`).
 * Approximations (README "Cost estimate"):
 * - Fargate: the BakeImage state's time (RunTask, provisioning and the wait for the stopped task;
 *   Fargate bills from the image pull to the task's stop, a little less).
 * - Builder instance: the whole BakeImage time as running time, an upper bound. Packer launches it
 *   after the container starts and terminates it before the container exits, and it is stopped
 *   (EBS only) while the AMI is created; the history does not show those moments.
 * - Test instance: from LaunchTestInstance entered to the exit of TerminateTestInstance (or of
 *   CleanupAfterFailure after a failure; still running: `now`).
 * - Lambda: each run of a Task state other than BakeImage is one invocation of its state time
 *   (scheduling included, retries counted once: close to the billed duration for short tasks).
 * - Step Functions: one transition per state entered.
 */
export const usageOfRuns = (runs: readonly StateRun[], now: number): BuildUsage => {
  let bakeSeconds = 0;
  let lambdaSeconds = 0;
  let lambdaInvocations = 0;
  let launchedAt: number | undefined;
  let endedAt: number | undefined;
  for (const run of runs) {
    if (run.name === BAKE_STATE) bakeSeconds += seconds(run, now);
    else if (run.type === 'Task') {
      lambdaSeconds += seconds(run, now);
      lambdaInvocations += 1;
    }
    if (run.name === TEST_INSTANCE_STATES.launch && launchedAt === undefined) launchedAt = run.enteredAt;
    const ends = run.name === TEST_INSTANCE_STATES.terminate || run.name === TEST_INSTANCE_STATES.cleanup;
    if (ends && launchedAt !== undefined) endedAt = run.exitedAt ?? now;
  }
  return {
    transitions: runs.length,
    lambdaInvocations,
    lambdaSeconds,
    bakeSeconds,
    builderRunningSeconds: bakeSeconds,
    builderStoppedSeconds: 0,
    testInstanceSeconds: launchedAt === undefined ? 0 : Math.max(0, ((endedAt ?? now) - launchedAt) / 1000),
  };
};

/**
 * The deployment's sizes from the stack's environment (`serverless.yml` provider.environment:
 * `LAMBDA_MEMORY_MB` (the provider's memorySize, which no function overrides), `BAKE_TASK_CPU` CPU
 * units, `BAKE_TASK_MEMORY` MiB, `BAKE_CPU_ARCHITECTURE` `X86_64`|`ARM64`, `BUILDER_INSTANCE_TYPE`,
 * `BUILDER_VOLUME_GB` GiB, `TEST_INSTANCE_TYPE`). Shared by the Lambda configuration (`config.ts`)
 * and `factory status` (which reads a function's environment). `tests/statemachine` pins each
 * value to its source (the Packer task definition, `packer/variables.pkr.hcl`).
 * @throws Error naming the first variable that is missing or malformed.
 */
export const costDeploymentOf = (
  environment: Readonly<Record<string, string | undefined>>,
): CostDeployment => {
  const positive = (key: string): number => {
    const value = Number(environment[key]);
    if (!environment[key] || !Number.isFinite(value) || value <= 0)
      throw new Error(`${key} must be a positive number, got "${environment[key] ?? ''}"`);
    return value;
  };
  const text = (key: string, pattern: RegExp): string => {
    const value = environment[key] ?? '';
    if (!pattern.test(value)) throw new Error(`${key} must match ${pattern}, got "${value}"`);
    return value;
  };
  const instanceType = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
  return {
    lambdaMemoryGb: positive('LAMBDA_MEMORY_MB') / 1024,
    testInstanceType: text('TEST_INSTANCE_TYPE', instanceType),
    builderInstanceType: text('BUILDER_INSTANCE_TYPE', instanceType),
    volumeGb: positive('BUILDER_VOLUME_GB'),
    fargate: {
      vcpu: positive('BAKE_TASK_CPU') / 1024,
      gb: positive('BAKE_TASK_MEMORY') / 1024,
      arch: text('BAKE_CPU_ARCHITECTURE', /^(X86_64|ARM64)$/) as 'X86_64' | 'ARM64',
    },
  };
};
