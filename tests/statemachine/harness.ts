/**
 * Test harness: executes `statemachines/image-factory.asl.yaml` with aws-local-stepfunctions and
 * records what every Task state was asked to do.
 *
 * The Task handlers here are recording test doubles that stand in for AWS (the Lambda functions and
 * the ECS `runTask.sync` integration). They return payloads shaped like the real ones
 * (docs/design.md "Execution state") and follow the handler contracts the ASL relies on:
 * the check handlers return `attempt` = previous `attempt` + 1, named errors carry the design's
 * error names. They never touch AWS or the file system.
 *
 * Waits and retry pauses are overridden to 0 ms, so a run takes milliseconds.
 * Library reference: https://github.com/nibble-4bits/aws-local-stepfunctions#staterunninput-options
 */

import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import type { RefreshStart, ScalingGroups } from '#commons/ports.js';
import { checkDistribution } from '#commons/steps/distribute-image.js';
import { inspectCandidate } from '#commons/steps/inspect-candidate.js';
import { rolloutChannel } from '#commons/steps/rollout-channel.js';
import { loadDefinition, taskStateNames, waitStateNames } from '#statemachines/definition.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemorySbomStore,
  ScriptedScanner,
} from '../unit/helpers/fakes.js';

/** Any JSON value a Task receives or returns. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** One entry of the execution event log (StateEntered, StateRetried, ExecutionFailed, ...). */
export type ExecutionEvent =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** A local Task implementation: gets the state's effective input, returns its result or throws. */
export type TaskDouble = (input: JsonObject, call: number) => Json | Promise<Json>;

/** Names of the Task states (keys of `taskResourceLocalHandlers`). */
export type TaskName =
  | 'PrepareBuild'
  | 'BakeImage'
  | 'FindCandidateImage'
  | 'InspectCandidate'
  | 'LaunchTestInstance'
  | 'CheckInstanceOnline'
  | 'ProbeTestInstance'
  | 'CheckProbeResult'
  | 'TerminateTestInstance'
  | 'CopyImageToRegion'
  | 'CheckRegionCopy'
  | 'ShareRegionCopy'
  | 'CheckDistribution'
  | 'AcquirePromotionLease'
  | 'PromoteImage'
  | 'ReleasePromotionLease'
  | 'ApplyRetention'
  | 'RolloutChannel'
  | 'NotifySuccess'
  | 'CleanupAfterFailure'
  | 'NotifyFailure'
  | 'OpenIncident';

/** The result of one execution. */
export interface PipelineRun {
  readonly status: 'SUCCEEDED' | 'FAILED';
  /** Execution output (the final JSONPath document) when SUCCEEDED. */
  readonly output: JsonObject | undefined;
  /** `{Error, Cause}` of the ExecutionFailed event when FAILED. */
  readonly error: { Error: string; Cause: unknown } | undefined;
  /** Every event the library emitted, in order. */
  readonly events: readonly ExecutionEvent[];
  /** Top-level state names in the order they were entered (repeats included). */
  readonly visited: readonly string[];
  /** States entered in each DistributeImage iteration, by item index (the region's position). */
  readonly iterations: Readonly<Record<number, readonly string[]>>;
  /** Inputs each Task double received, one per invocation (retries included). */
  readonly calls: Readonly<Record<string, JsonObject[]>>;
}

/** A manual execution request (docs/design.md "Execution state"). */
export const MANUAL_INPUT: JsonObject = {
  pipeline: 'web',
  channel: 'stable',
  trigger: 'manual',
  baseImage: 'ubuntu-24.04',
};

export const BUILD_ID = 'web-20260101t120000z-3f2a9c1';

/**
 * The Context Object's execution fields Step Functions provides and aws-local-stepfunctions does not
 * (it sets only `Input` and `StartTime`); passed with the `context` run option.
 */
export const EXECUTION = {
  Id: `arn:aws:states:us-east-1:123456789012:execution:golden-image-factory-local:${BUILD_ID}`,
  Name: BUILD_ID,
};
export const CANDIDATE_IMAGE_ID = 'ami-0c0ffee0c0ffee001';

/** The happy path's distribution: the stack's region and two others, shared with an account and an OU. */
export const DISTRIBUTION: JsonObject = {
  regions: [
    {
      region: 'us-east-1',
      home: true,
      kmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555',
    },
    {
      region: 'eu-west-1',
      home: false,
      kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555556',
    },
    {
      region: 'ap-southeast-2',
      home: false,
      kmsKeyId: 'arn:aws:kms:ap-southeast-2:111122223333:key/11111111-2222-3333-4444-555555555557',
    },
  ],
  shareWith: {
    accounts: ['444455556666'],
    organizations: [],
    organizationalUnits: ['arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdefghij'],
  },
  onRegionFailure: 'promote-none',
  bakeKmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555',
};

/** The copy's image id in a region (the candidate's at home). */
export const regionImageId = (region: string): string =>
  region === 'us-east-1' ? CANDIDATE_IMAGE_ID : `ami-0c0ffee${region === 'eu-west-1' ? 'e' : 'a'}0c0ffee002`;
export const TEST_INSTANCE_ID = 'i-0feedface0000001';

/** The candidate's SBOM (the `factory:sbom` tag FindCandidateImage returns) and the channel image's. */
export const CANDIDATE_SBOM = `s3://golden-image-factory-dev-sboms-123456789012/sboms/web/${BUILD_ID}.cdx.json`;
export const CURRENT_IMAGE_ID = 'ami-0b0b0b0b0b0b0b0b0';
export const CURRENT_SBOM =
  's3://golden-image-factory-dev-sboms-123456789012/sboms/web/web-20251201t120000z-1a2b3c4.cdx.json';

/** A real-shaped fixture under `tests/events/`. */
export const eventFixture = (path: string): string =>
  readFileSync(new URL(`../events/${path}`, import.meta.url), 'utf8');

/**
 * The InspectCandidate double: the real step over in-memory ports: the channel `web/stable` serves
 * {@link CURRENT_IMAGE_ID}, whose SBOM is the Debian 12 fixture; the candidate's is the updated
 * one; `scanner` answers the scan. `threshold` is the stage's `vulnerabilityThreshold`.
 */
export const inspectWith = (
  scanner: ScriptedScanner,
  threshold: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'NONE' = 'CRITICAL',
): TaskDouble => {
  const images = new MemoryImageStore();
  images.images.push({
    imageId: CURRENT_IMAGE_ID,
    name: 'web-current',
    createdAt: '2025-12-01T12:40:00.000Z',
    tags: { 'factory:pipeline': 'web', 'factory:channel': 'stable', 'factory:sbom': CURRENT_SBOM },
    snapshotIds: [],
  });
  const pointer = new MemoryChannelPointer();
  void pointer.point('web', 'stable', CURRENT_IMAGE_ID);
  const sboms = new MemorySbomStore(
    new Map([
      [CURRENT_SBOM, eventFixture('sbom/syft-debian12-before.cdx.json')],
      [CANDIDATE_SBOM, eventFixture('sbom/syft-debian12-after.cdx.json')],
    ]),
  );
  return async (input) =>
    (await inspectCandidate(
      input as never,
      { images, pointer, sboms, scanner },
      { threshold },
    )) as unknown as Json;
};

/** A ScanSbom report (outputFormat CYCLONE_DX_1_5) with no vulnerabilities. */
export const CLEAN_SCAN = {
  scanned: true as const,
  report: { bomFormat: 'CycloneDX', specVersion: '1.5', vulnerabilities: [] },
};
/** The recorded ScanSbom response's report: one critical, one high, one medium finding. */
export const FINDINGS_SCAN = {
  scanned: true as const,
  report: (JSON.parse(eventFixture('inspector-scan/scan-sbom-cyclonedx.json')) as { sbom: unknown }).sbom,
};

/** `$.build.rollout` of a channel that rolls out (PrepareBuild resolves it from the rollout parameter). */
export const ROLLOUT: JsonObject = {
  tag: { key: 'factory:channel', value: 'web/stable' },
  preferences: { MinHealthyPercentage: 90, InstanceWarmup: 60 },
};

/**
 * Auto Scaling groups in memory, for the real RolloutChannel step: the groups tagged with the
 * channel per region, the refreshes asked for, and the groups that refuse.
 */
export class ScalingGroupsDouble implements ScalingGroups {
  readonly refreshes: Array<{ region: string; group: string; preferences: unknown }> = [];
  constructor(
    private readonly tagged: Readonly<Record<string, readonly string[]>>,
    private readonly refusals: Readonly<Record<string, Error | 'in-progress'>> = {},
  ) {}

  async findTagged(region: string): Promise<string[]> {
    const refusal = this.refusals[region];
    if (refusal instanceof Error) throw refusal;
    return [...(this.tagged[region] ?? [])];
  }

  async startRefresh(region: string, group: string, preferences: unknown): Promise<RefreshStart> {
    const refusal = this.refusals[`${region}/${group}`];
    if (refusal instanceof Error) throw refusal;
    if (refusal === 'in-progress')
      return { outcome: 'in-progress', detail: `An Instance Refresh is already in progress for ${group}` };
    this.refreshes.push({ region, group, preferences });
    return { outcome: 'started', instanceRefreshId: `refresh-${region}-${group}` };
  }
}

/** The RolloutChannel double: the real step (pure over its port) against `groups`. */
export const rolloutWith =
  (groups: ScalingGroups): TaskDouble =>
  async (input) =>
    (await rolloutChannel(input as never, { groups, homeRegion: 'us-east-1' })) as unknown as Json;

/** An Error whose `name` is what Step Functions matches in Retry / Catch `ErrorEquals`. */
export function namedError(name: string, message = `${name} (test double)`): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Previous attempt counter of a poll (0 before the first check). */
function previousAttempt(input: JsonObject, key: 'online' | 'probeResult' | 'copyCheck'): number {
  const previous = input[key];
  if (previous === null || typeof previous !== 'object' || Array.isArray(previous)) return 0;
  return typeof previous.attempt === 'number' ? previous.attempt : 0;
}

/** Happy-path doubles: the instance is online at the 2nd check, the probe passes at the 2nd check. */
export function happyPath(): Record<TaskName, TaskDouble> {
  return {
    // Receives `{ input, execution }` (the execution input and the Context Object's Execution).
    PrepareBuild: (request) => {
      const input = request.input as JsonObject;
      const execution = request.execution as JsonObject;
      return {
        buildId: BUILD_ID,
        pipeline: input.pipeline ?? 'web',
        channel: input.channel ?? 'stable',
        trigger: input.trigger ?? 'manual',
        baseImage: input.baseImage ?? 'ubuntu-24.04',
        imageDefinition: input.imageDefinition ?? input.pipeline ?? 'web',
        sourceImageId: 'ami-0123456789abcdef0',
        sourceImageName: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260101',
        commit: '0123456789abcdef0123456789abcdef01234567',
        executionName: execution.Name ?? BUILD_ID,
        executionArn: execution.Id ?? null,
        // Fixed rather than execution.StartTime, which the library sets to the real start time.
        startedAt: '2026-01-01T12:00:00.000Z',
        probeTimeoutSeconds: 600,
        order: { sourceCreatedAt: '2026-01-01T00:00:00.000Z', sequence: 1 },
        distribution: structuredClone(DISTRIBUTION),
      };
    },
    // Shape of the stopped ECS task that `ecs:runTask.sync` returns (DescribeTasks, PascalCase).
    BakeImage: () => ({
      TaskArn: 'arn:aws:ecs:us-east-1:123456789012:task/golden-image-factory-local/0f1e2d3c4b5a',
      LastStatus: 'STOPPED',
      StopCode: 'EssentialContainerExited',
      Containers: [{ Name: 'packer', ExitCode: 0 }],
    }),
    FindCandidateImage: () => ({
      imageId: CANDIDATE_IMAGE_ID,
      name: `web-ubuntu-24.04-${BUILD_ID}`,
      createdAt: '2026-01-01T12:40:00.000Z',
      snapshotIds: ['snap-0aaaaaaaaaaaaaaa1'],
      sbom: CANDIDATE_SBOM,
    }),
    InspectCandidate: inspectWith(new ScriptedScanner('inspector', CLEAN_SCAN)),
    LaunchTestInstance: () => ({ instanceId: TEST_INSTANCE_ID }),
    CheckInstanceOnline: (input) => {
      const attempt = previousAttempt(input, 'online') + 1;
      return { online: attempt >= 2, attempt };
    },
    ProbeTestInstance: () => ({
      commandId: 'c0ffee00-0000-4000-8000-000000000001',
      instanceId: TEST_INSTANCE_ID,
    }),
    CheckProbeResult: (input): JsonObject => {
      const attempt = previousAttempt(input, 'probeResult') + 1;
      if (attempt < 2) return { status: 'InProgress', attempt, checks: [], passed: false, failed: [] };
      return {
        status: 'Success',
        attempt,
        checks: [
          { name: 'sshd-hardened', ok: true, detail: 'PermitRootLogin no' },
          { name: 'machine-id-empty', ok: true, detail: '' },
        ],
        passed: true,
        failed: [],
        summary: '2 of 2 checks passed',
      };
    },
    TerminateTestInstance: () => ({ terminatedInstanceIds: [TEST_INSTANCE_ID] }),
    // The DistributeImage Map's iteration: `{ build, candidate, target }`, then `copy`, `copyCheck`.
    CopyImageToRegion: (input) => {
      const target = input.target as JsonObject;
      const region = String(target.region);
      return { region, imageId: regionImageId(region), copied: target.home !== true };
    },
    CheckRegionCopy: (input) => {
      const attempt = previousAttempt(input, 'copyCheck') + 1;
      const region = String((input.copy as JsonObject).region);
      return {
        available: attempt >= 2,
        attempt,
        state: attempt >= 2 ? 'available' : 'pending',
        snapshotIds: [`snap-0${region === 'us-east-1' ? 'a' : 'c'}aaaaaaaaaaaaaa1`],
      };
    },
    ShareRegionCopy: (input) => {
      const copy = input.copy as JsonObject;
      return {
        region: copy.region ?? null,
        outcome: 'distributed',
        imageId: copy.imageId ?? null,
        snapshotIds: (input.copyCheck as JsonObject).snapshotIds ?? [],
      };
    },
    // The real step: the fail policy is pure (core/distribution.ts), so the matrix tests it as it runs.
    CheckDistribution: async (input) => (await checkDistribution(input as never)) as unknown as Json,
    AcquirePromotionLease: () => ({
      key: 'local#web#stable',
      holder: BUILD_ID,
      expiresAt: '2026-01-01T13:30:00.000Z',
    }),
    PromoteImage: () => ({
      outcome: 'promoted',
      channel: 'stable',
      imageId: CANDIDATE_IMAGE_ID,
      previousImageId: 'ami-0b0b0b0b0b0b0b0b0',
      parameterName: '/image-factory/web/stable',
      parameterVersion: 7,
    }),
    ReleasePromotionLease: () => ({ released: true }),
    ApplyRetention: () => ({
      dryRun: false,
      outcomes: [
        {
          imageId: 'ami-0a0a0a0a0a0a0a0a0',
          action: 'deregister',
          reason: 'older than the 3 newest',
          outcome: 'deregistered',
          snapshots: ['snap-0bbbbbbbbbbbbbbb1'],
        },
      ],
    }),
    RolloutChannel: rolloutWith(new ScalingGroupsDouble({ 'us-east-1': ['web-stable-blue'] })),
    NotifySuccess: () => ({ delivered: true }),
    CleanupAfterFailure: () => ({ terminatedInstanceIds: [TEST_INSTANCE_ID], deregisteredImageId: null }),
    NotifyFailure: () => ({ delivered: true }),
    OpenIncident: () => ({
      incidentRecordArn: 'arn:aws:ssm-incidents::123456789012:incident-record/golden-image-factory/0001',
    }),
  };
}

/**
 * Runs the pipeline once with the happy-path doubles, `overrides` replacing some of them.
 * Never throws for a failed execution: the outcome is in `status` / `error`.
 */
export async function runPipeline(
  overrides: Partial<Record<TaskName, TaskDouble>> = {},
  input: JsonObject = MANUAL_INPUT,
): Promise<PipelineRun> {
  const definition = loadDefinition();
  const doubles: Record<string, TaskDouble> = { ...happyPath(), ...overrides };
  const calls: Record<string, JsonObject[]> = {};
  const handlers = Object.fromEntries(
    taskStateNames(definition).map((name) => {
      const double = doubles[name];
      if (double === undefined) throw new Error(`no test double for Task state ${name}`);
      const recorded = (taskInput: unknown): Json | Promise<Json> => {
        const received = structuredClone(taskInput) as JsonObject;
        calls[name] ??= [];
        calls[name].push(received);
        return double(structuredClone(received), calls[name].length);
      };
      return [name, recorded];
    }),
  );
  const execution = new StateMachine(definition).run(structuredClone(input), {
    context: { Execution: { ...EXECUTION } },
    overrides: {
      taskResourceLocalHandlers: handlers,
      waitTimeOverrides: Object.fromEntries(waitStateNames(definition).map((name) => [name, 0])),
      retryIntervalOverrides: Object.fromEntries(taskStateNames(definition).map((name) => [name, 0])),
    },
  });

  return { ...(await collectRun(execution)), calls };
}

/**
 * Drives an execution to its end and collects its event log: the final status, the output (when
 * SUCCEEDED), the ExecutionFailed `{Error, Cause}` (when FAILED) and the states entered, in order.
 */
export async function collectRun(
  execution: ReturnType<StateMachine['run']>,
): Promise<Omit<PipelineRun, 'calls'>> {
  const events: ExecutionEvent[] = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) events.push(event);
  })();
  let status: PipelineRun['status'] = 'SUCCEEDED';
  let output: JsonObject | undefined;
  try {
    output = (await execution.result) as JsonObject;
  } catch {
    status = 'FAILED';
  }
  await collecting;
  const failed = events.find((event) => event.type === 'ExecutionFailed');
  return {
    status,
    output,
    error: failed?.type === 'ExecutionFailed' ? { Error: failed.Error, Cause: failed.Cause } : undefined,
    events,
    visited: events.flatMap((event) =>
      event.type === 'StateEntered' && event.index === undefined ? [event.state.name] : [],
    ),
    iterations: events.reduce<Record<number, string[]>>((byIndex, event) => {
      if (event.type === 'StateEntered' && event.index !== undefined)
        byIndex[event.index] = [...(byIndex[event.index] ?? []), event.state.name];
      return byIndex;
    }, {}),
  };
}

/** Number of StateRetried events of a state. */
export function retriesOf(run: Pick<PipelineRun, 'events'>, state: string): number {
  return run.events.filter((event) => event.type === 'StateRetried' && event.state.name === state).length;
}

/** Input the n-th (default: last) invocation of a Task double received. */
export function inputOf(run: PipelineRun, state: TaskName, index = -1): JsonObject {
  const received = run.calls[state]?.at(index);
  if (received === undefined) throw new Error(`${state} was not invoked`);
  return received;
}

/**
 * The ownership invariant: once LaunchTestInstance has run, the execution must afterwards either
 * complete TerminateTestInstance (success path; a caught failure of it does not count) or enter
 * CleanupAfterFailure (every failure path).
 */
export function leavesNoTestInstance(run: PipelineRun): boolean {
  const launched = run.events.findLastIndex(
    (event) => event.type === 'StateEntered' && event.state.name === 'LaunchTestInstance',
  );
  if (launched < 0) return true;
  const after = run.events.slice(launched + 1);
  const cleanedUp = after.some(
    (event) => event.type === 'StateEntered' && event.state.name === 'CleanupAfterFailure',
  );
  const terminateCaught = after.some(
    (event) => event.type === 'StateCaught' && event.state.name === 'TerminateTestInstance',
  );
  const terminated = after.some(
    (event) => event.type === 'StateExited' && event.state.name === 'TerminateTestInstance',
  );
  return cleanedUp || (terminated && !terminateCaught);
}
