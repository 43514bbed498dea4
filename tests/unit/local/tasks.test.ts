/**
 * The local task table (`local/tasks.ts`) against the ASL: the startup check refuses a definition
 * with a Task state the table lacks (and a row that is no Task state), and each row serves its
 * state with the step, schema and ports the table declares.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it, vi } from 'vitest';
import { InstanceNeverOnline } from '#commons/errors.js';
import { LOCAL_COST_NOTE } from '#commons/report.js';
import { FileEventLog } from '#local/event-log.js';
import { LocalExecutionHistory } from '#local/observe.js';
import { localPollBounds } from '#local/poll-bounds.js';
import {
  assertLocalTasks,
  LOCAL_TASKS,
  type LocalTaskContext,
  LocalTaskTableMismatch,
} from '#local/tasks.js';
import type { LocalPorts } from '#local/wiring.js';
import { loadDefinition, taskStateNames } from '#statemachines/definition.js';
import { eventProblems } from '../../event-schemas.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemoryLauncher,
  RecordingNotifier,
} from '../helpers/fakes.js';
import { BUILD, CANDIDATE, imageRecord } from '../helpers/fixtures.js';

/** The pipeline with one more Task state between FindCandidateImage and LaunchTestInstance. */
const withExtraTask = (): StateMachineDefinition => {
  const definition = loadDefinition();
  const states = definition.States as unknown as Record<string, Record<string, unknown>>;
  states.ScanCandidateImage = { ...states.FindCandidateImage, Next: 'LaunchTestInstance' };
  (states.FindCandidateImage as Record<string, unknown>).Next = 'ScanCandidateImage';
  return definition;
};

const context = (overrides: Partial<LocalTaskContext> = {}): LocalTaskContext => ({
  ports: { launcher: new MemoryLauncher() } as unknown as LocalPorts,
  probeTimeoutSeconds: 600,
  retention: { maxAgeDays: 30, keepLatest: 3, dryRun: false },
  bounds: localPollBounds(),
  bake: vi.fn(async () => ({ TaskArn: 'arn:local:task', LastStatus: 'STOPPED' })),
  ...overrides,
});

describe('local task table', () => {
  it('has exactly one row per Task state of the ASL', () => {
    expect(() => assertLocalTasks(loadDefinition())).not.toThrow();
    expect(Object.keys(LOCAL_TASKS).sort()).toEqual(taskStateNames(loadDefinition()).sort());
  });

  it('refuses to start when the ASL has a Task state the table lacks', () => {
    const check = () => assertLocalTasks(withExtraTask());

    expect(check).toThrow(LocalTaskTableMismatch);
    expect(check).toThrow('no local handler for Task state ScanCandidateImage');
  });

  it('refuses a row that is no Task state of the ASL', () => {
    const tasks = {
      ...LOCAL_TASKS,
      ScanCandidateImage: LOCAL_TASKS.FindCandidateImage,
    } as typeof LOCAL_TASKS;

    expect(() => assertLocalTasks(loadDefinition(), tasks)).toThrow(
      'local handler for ScanCandidateImage, which is no Task state of the ASL',
    );
  });

  it.each(Object.entries(LOCAL_TASKS).filter(([, task]) => task.schema !== undefined))(
    '%s parses its input with its schema before any port is touched',
    async (_state, task) => {
      // A build that is no object fails every schema (the failure path accepts a missing one).
      await expect(task.run({ build: 42 }, context({ ports: {} as LocalPorts }))).rejects.toMatchObject({
        name: 'InvalidInput',
      });
    },
  );

  it('hands BakeImage the ECS RunTask request and returns the stopped-task shape', async () => {
    const runTask = { Overrides: { ContainerOverrides: [] } };
    const ctx = context();

    await expect(LOCAL_TASKS.BakeImage?.run(runTask, ctx)).resolves.toEqual({
      TaskArn: 'arn:local:task',
      LastStatus: 'STOPPED',
    });
    expect(ctx.bake).toHaveBeenCalledWith(runTask);
  });

  it('stops CheckInstanceOnline at the local bound, before the ASL bound', async () => {
    const bound = localPollBounds().CheckInstanceOnline;
    const input = { build: BUILD, testInstance: { instanceId: 'i-0123456789abcdef0' } };
    const check = (attempt: number) =>
      LOCAL_TASKS.CheckInstanceOnline?.run({ ...input, online: { online: false, attempt } }, context());

    await expect(check(bound - 2)).resolves.toEqual({ online: false, attempt: bound - 1 });
    await expect(check(bound - 1)).rejects.toBeInstanceOf(InstanceNeverOnline);
  });

  it('serves PromoteImage and NotifyFailure with the event log: what they publish validates against the schemas', async () => {
    // Prepare: the local backend's event log in a fresh catalog directory, a candidate to promote.
    const dir = await mkdtemp(path.join(tmpdir(), 'local-events-'));
    const events = new FileEventLog(dir);
    const images = new MemoryImageStore([
      imageRecord(CANDIDATE.imageId, 0, { 'factory:channel': 'candidate' }),
    ]);
    const ports = {
      images,
      pointer: new MemoryChannelPointer(),
      notifier: new RecordingNotifier(),
      events,
    } as unknown as LocalPorts;
    const probeResult = {
      status: 'Success',
      attempt: 1,
      checks: [{ name: 'service-ssh', ok: true, detail: 'active' }],
      passed: true,
      failed: [],
      summary: '1/1 checks passed',
    };

    // Act: the rows as the local runner calls them, with the state document.
    await LOCAL_TASKS.PromoteImage?.run(
      { build: BUILD, candidate: CANDIDATE, probeResult },
      context({ ports }),
    );
    await LOCAL_TASKS.NotifyFailure?.run(
      { build: BUILD, candidate: CANDIDATE, error: { Error: 'ProbeFailed', Cause: 'ssh-hardening' } },
      context({ ports }),
    );

    // Assess
    const log = await events.read();
    expect(log.map((event) => event['detail-type'])).toEqual(['Image Promoted', 'Build Failed']);
    for (const event of log) {
      expect(event).toMatchObject({ source: 'image-factory', region: 'local', detail: { stage: 'local' } });
      expect(eventProblems(event as never)).toEqual([]);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('serves NotifySuccess with the run’s own history: local times, no AWS cost, no console link', async () => {
    // Prepare: the history the local run recorded (as observeExecution does), NotifySuccess running.
    const history = new LocalExecutionHistory();
    const start = Date.parse(BUILD.startedAt);
    history.startedAt = start;
    history.entered('PrepareBuild', 'Task', start);
    history.entered('BakeImage', 'Task', start + 2_000);
    history.entered('NotifySuccess', 'Task', start + 512_000);
    const notifier = new RecordingNotifier();
    const ports = { notifier, history } as unknown as LocalPorts;
    const build = {
      ...BUILD,
      executionArn: `arn:aws:states:local:000000000000:execution:image-factory:${BUILD.executionName}`,
    };
    const promotion = {
      outcome: 'promoted',
      channel: 'stable',
      imageId: CANDIDATE.imageId,
      previousImageId: null,
      parameterName: '/p',
      parameterVersion: 1,
    };

    // Act
    await LOCAL_TASKS.NotifySuccess?.run({ build, candidate: CANDIDATE, promotion }, context({ ports }));

    // Assess
    const fields = Object.fromEntries(notifier.sent[0]?.fields.map((f) => [f.label, f.value]) ?? []);
    expect(fields.Time).toMatch(/^\d+(h|m|s).* \(prepare 2s, bake 8m 30s, notify \d+.*\), local$/);
    expect(fields.Cost).toBe(LOCAL_COST_NOTE);
    expect(fields['Estimated cost']).toBeUndefined();
    expect(notifier.sent[0]?.links).toBeUndefined();
  });

  it('reports OpenIncident as unavailable locally', async () => {
    await expect(LOCAL_TASKS.OpenIncident?.run({}, context())).rejects.toThrow(
      'Incident Manager is not available on the local backend',
    );
  });
});
