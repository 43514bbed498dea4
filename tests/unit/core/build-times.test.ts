/**
 * Time per phase, usage and the deployment's sizes (`core/build-times.ts`): tables of runs, and the
 * runs of a real-shaped GetExecutionHistory of a promoted build (`tests/events/stepfunctions/history-promoted.json`).
 */
import { describe, expect, it } from 'vitest';
import { costDeploymentOf, timePerPhase, usageOfRuns } from '#commons/core/build-times.js';
import { type HistoryEventLike, readHistory, type StateRun } from '#commons/core/execution-history.js';
import { loadEvent } from '../helpers/lambda.js';

const run = (name: string, type: string, enteredAt: number, exitedAt?: number): StateRun => ({
  name,
  type,
  enteredAt: enteredAt * 1000,
  ...(exitedAt === undefined ? {} : { exitedAt: exitedAt * 1000 }),
});

/** A failed build: launched at 100 s, probe failed, cleanup ended at 190 s, NotifyFailure running. */
const FAILED = [
  run('PrepareBuild', 'Task', 0, 1),
  run('BakeImage', 'Task', 1, 91),
  run('FindCandidateImage', 'Task', 91, 100),
  run('LaunchTestInstance', 'Task', 100, 102),
  run('WaitForInstanceBoot', 'Wait', 102, 132),
  run('CheckInstanceOnline', 'Task', 132, 133),
  run('IsInstanceOnline', 'Choice', 133, 133),
  run('ProbeTestInstance', 'Task', 133, 134),
  run('WaitForProbe', 'Wait', 134, 149),
  run('CheckProbeResult', 'Task', 149, 150),
  run('ProbeFailed', 'Pass', 150, 150),
  run('CleanupAfterFailure', 'Task', 150, 190),
  run('NotifyFailure', 'Task', 190),
];

const historyRuns = () => {
  const { events } = loadEvent<{ events: Array<Record<string, unknown>> }>(
    'stepfunctions',
    'history-promoted',
  );
  return readHistory(
    events.map((event) => ({ ...event, timestamp: new Date(String(event.timestamp)) }) as HistoryEventLike),
  );
};

describe('timePerPhase', () => {
  it('counts each state with the phase it runs in, waits and choices included, an open run until now', () => {
    expect(timePerPhase(FAILED, 200_000)).toEqual([
      { phase: 'prepare', seconds: 1 },
      { phase: 'bake', seconds: 99 },
      { phase: 'boot', seconds: 33 },
      { phase: 'probe', seconds: 17 },
      { phase: 'cleanup', seconds: 40 },
      { phase: 'notify', seconds: 10 },
    ]);
  });

  it('puts states before the first phase in other', () => {
    expect(timePerPhase([run('Somewhere', 'Pass', 0, 2), run('PrepareBuild', 'Task', 2, 3)], 3000)).toEqual([
      { phase: 'other', seconds: 2 },
      { phase: 'prepare', seconds: 1 },
    ]);
  });

  it('partitions a real history: the phases add up to the time since the execution started', () => {
    // Prepare
    const { runs, startedAt } = historyRuns();
    const now = Date.parse('2026-06-30T11:11:20.000Z');

    // Act
    const phases = timePerPhase(runs, now);

    // Assess
    const total = phases.reduce((sum, phase) => sum + phase.seconds, 0);
    expect(total).toBeCloseTo((now - (startedAt as number)) / 1000, 6);
    expect(phases.map((phase) => phase.phase)).toEqual([
      'prepare',
      'bake',
      'boot',
      'probe',
      'distribute',
      'promote',
      'retention',
      'notify',
    ]);
    expect(phases.find((phase) => phase.phase === 'bake')?.seconds).toBeCloseTo(601, 6);
  });
});

describe('usageOfRuns', () => {
  it('reads the bake, the Lambda tasks and the test instance of a failed build (ended by the cleanup)', () => {
    expect(usageOfRuns(FAILED, 200_000)).toEqual({
      transitions: 13,
      // 1 + 9 + 2 + 1 + 1 + 1 + 40 + 10 (NotifyFailure, open until now)
      lambdaInvocations: 8,
      lambdaSeconds: 65,
      bakeSeconds: 90,
      builderRunningSeconds: 90,
      builderStoppedSeconds: 0,
      testInstanceSeconds: 90,
    });
  });

  it('has no test instance before LaunchTestInstance, and counts one still running until now', () => {
    expect(usageOfRuns(FAILED.slice(0, 3), 200_000).testInstanceSeconds).toBe(0);
    expect(usageOfRuns(FAILED.slice(0, 6), 200_000).testInstanceSeconds).toBe(100);
  });

  it('reads a real history: test instance from LaunchTestInstance entered to TerminateTestInstance exited', () => {
    const { runs } = historyRuns();
    const at = (name: string, key: 'enteredAt' | 'exitedAt', which: 'first' | 'last' = 'first') => {
      const found = runs.filter((candidate) => candidate.name === name);
      return (which === 'first' ? found[0] : found.at(-1))?.[key] as number;
    };

    const usage = usageOfRuns(runs, Date.parse('2026-06-30T11:11:20.000Z'));

    expect(usage.bakeSeconds).toBeCloseTo(600, 6);
    expect(usage.testInstanceSeconds).toBeCloseTo(
      (at('TerminateTestInstance', 'exitedAt', 'last') - at('LaunchTestInstance', 'enteredAt')) / 1000,
      6,
    );
    expect(usage.transitions).toBe(runs.length);
    expect(usage.lambdaInvocations).toBe(
      runs.filter((r) => r.type === 'Task' && r.name !== 'BakeImage').length,
    );
  });
});

describe('costDeploymentOf', () => {
  const ENV = {
    LAMBDA_MEMORY_MB: '256',
    BAKE_TASK_CPU: '1024',
    BAKE_TASK_MEMORY: '2048',
    BAKE_CPU_ARCHITECTURE: 'ARM64',
    BUILDER_INSTANCE_TYPE: 't3.small',
    BUILDER_VOLUME_GB: '8',
    TEST_INSTANCE_TYPE: 't3.micro',
  };

  it('converts the environment to the sizes the prices apply to', () => {
    expect(costDeploymentOf(ENV)).toEqual({
      lambdaMemoryGb: 0.25,
      testInstanceType: 't3.micro',
      builderInstanceType: 't3.small',
      volumeGb: 8,
      fargate: { vcpu: 1, gb: 2, arch: 'ARM64' },
    });
  });

  it.each([
    ['LAMBDA_MEMORY_MB', undefined, 'LAMBDA_MEMORY_MB must be a positive number, got ""'],
    ['BAKE_TASK_CPU', '0', 'BAKE_TASK_CPU must be a positive number, got "0"'],
    ['BAKE_TASK_MEMORY', 'lots', 'BAKE_TASK_MEMORY must be a positive number, got "lots"'],
    ['BAKE_CPU_ARCHITECTURE', 'arm64', 'BAKE_CPU_ARCHITECTURE must match'],
    ['BUILDER_INSTANCE_TYPE', 'small', 'BUILDER_INSTANCE_TYPE must match'],
    ['TEST_INSTANCE_TYPE', '', 'TEST_INSTANCE_TYPE must match'],
  ])('refuses %s=%s, naming it', (key, value, message) => {
    expect(() => costDeploymentOf({ ...ENV, [key]: value })).toThrow(message);
  });
});
