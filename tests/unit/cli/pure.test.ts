/**
 * The operator CLI's pure parts: formatting, reading an execution history, what a channel serves,
 * argument and input validation, how errors are explained.
 */
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { channelImages } from '#cli/channels.js';
import { parentOption, wholeOption } from '#cli/commands/options.js';
import { outcomeLine, rawExecutionInput, validatedInput } from '#cli/commands/start.js';
import { EXIT, explain, OperatorError, UsageError } from '#cli/errors.js';
import { stateLine } from '#cli/follow.js';
import { formatAge, formatDuration, renderTable, shortCommit } from '#cli/format.js';
import { toImageRecord } from '#commons/aws/ec2-image-store.js';
import {
  failingState,
  type HistoryEventLike,
  readHistory,
  StateTracker,
  timePerState,
} from '#commons/core/execution-history.js';
import { InvalidInput, PromotionLeaseHeld, UnknownImageDefinition } from '#commons/errors.js';
import type { ImageRecord } from '#commons/ports.js';

describe('formatDuration and formatAge', () => {
  it.each([
    [0.42, '0.4 s'],
    [59.94, '59.9 s'],
    [60, '1m 00s'],
    [185, '3m 05s'],
    [3720, '1h 02m'],
    [86_400 * 2 + 3600 * 3 + 59, '2d 03h'],
    [-1, '-'],
    [Number.NaN, '-'],
  ])('%s s → %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('ages from an ISO time; undated is "-", the future is 0', () => {
    const now = new Date('2026-11-30T12:00:00Z');
    expect(formatAge('2026-11-27T08:00:00Z', now)).toBe('3d 04h');
    expect(formatAge('not a date', now)).toBe('-');
    expect(formatAge(undefined, now)).toBe('-');
    expect(formatAge('2026-12-01T00:00:00Z', now)).toBe('0.0 s');
    expect(shortCommit('0123456789abcdef0123')).toBe('0123456789ab');
    expect(shortCommit(undefined)).toBe('-');
  });

  it('renders a plain table: no colour codes, empty cells as "-"', () => {
    const table = renderTable(
      ['A', 'B'],
      [
        ['x', undefined],
        ['', 'y'],
      ],
    );
    expect(table).not.toContain('\u001b[');
    expect(table.split('\n')).toEqual(['A  B', 'x  -', '-  y', '']);
  });
});

/** A history as Step Functions records it (ids ascending from 1). */
const history = (
  entries: Array<[string, Record<string, unknown>?]>,
  start = Date.parse('2026-11-30T12:00:00Z'),
) =>
  entries.map(
    ([type, details], index): HistoryEventLike => ({
      id: index + 1,
      type,
      timestamp: new Date(start + index * 1000),
      ...details,
    }),
  );
const entered = (type: string, name: string): [string, Record<string, unknown>] => [
  `${type}StateEntered`,
  { stateEnteredEventDetails: { name } },
];
const exited = (type: string, name: string): [string, Record<string, unknown>] => [
  `${type}StateExited`,
  { stateExitedEventDetails: { name } },
];

describe('reading an execution history', () => {
  const failed = history([
    ['ExecutionStarted'],
    entered('Task', 'PrepareBuild'),
    ['LambdaFunctionScheduled'],
    exited('Task', 'PrepareBuild'),
    entered('Task', 'BakeImage'),
    ['TaskFailed', { taskFailedEventDetails: { error: 'States.TaskFailed', cause: 'packer exited 1' } }],
    // A caught failure: the next state is entered without an exit event.
    entered('Task', 'CleanupAfterFailure'),
    exited('Task', 'CleanupAfterFailure'),
    entered('Fail', 'PipelineFailed'),
    [
      'ExecutionFailed',
      { executionFailedEventDetails: { error: 'States.TaskFailed', cause: 'packer exited 1' } },
    ],
  ]);

  it('closes a run at its exit, or at the next state entered after a caught failure', () => {
    const { runs, end, startedAt } = readHistory(failed);

    expect(runs.map((run) => [run.name, run.type, (run.exitedAt ?? 0) - run.enteredAt])).toEqual([
      ['PrepareBuild', 'Task', 2000],
      ['BakeImage', 'Task', 2000],
      ['CleanupAfterFailure', 'Task', 1000],
      ['PipelineFailed', 'Fail', 1000],
    ]);
    expect(runs[1]?.failure).toEqual({ error: 'States.TaskFailed', cause: 'packer exited 1' });
    expect(end).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed', cause: 'packer exited 1' });
    expect(startedAt).toBe(Date.parse('2026-11-30T12:00:00Z'));
  });

  it('follows a growing history: each event once, in id order, whatever the batch order', () => {
    const tracker = new StateTracker();
    const first = tracker.add([...failed.slice(0, 5)].reverse());
    const openAfterFirst = tracker.open?.name;
    const again = tracker.add(failed.slice(0, 5));
    const rest = tracker.add(failed.slice(5));

    expect(first.map((run) => run.name)).toEqual(['PrepareBuild']);
    expect(openAfterFirst).toBe('BakeImage');
    expect(again).toEqual([]);
    expect(rest.map((run) => run.name)).toEqual(['BakeImage', 'CleanupAfterFailure', 'PipelineFailed']);
    expect(tracker.lastId).toBe(failed.length);
  });

  it('keeps a running state open until it exits', () => {
    const tracker = new StateTracker();
    tracker.add(history([['ExecutionStarted'], entered('Wait', 'WaitForProbe')]));
    expect(tracker.open?.name).toBe('WaitForProbe');
    expect(tracker.end).toBeUndefined();
  });

  it.each([
    [
      ['PrepareBuild', 'BakeImage', 'CleanupAfterFailure', 'NotifyFailure', 'PipelineFailed'],
      'FAILED',
      'BakeImage',
    ],
    [['CheckProbeResult', 'IsProbeComplete', 'ProbeFailed', 'CleanupAfterFailure'], 'FAILED', 'ProbeFailed'],
    [['PrepareBuild', 'BakeImage'], 'ABORTED', 'BakeImage'],
    [['PrepareBuild', 'NotifySuccess', 'PipelineSucceeded'], 'SUCCEEDED', undefined],
    [['PrepareBuild', 'BakeImage'], 'RUNNING', undefined],
  ])('failing state of %j (%s) is %s', (visited, status, state) => {
    expect(failingState(visited, status)).toBe(state);
  });

  it('sums the time per state over every entry of a poll loop', () => {
    const runs = readHistory(
      history([
        entered('Task', 'CheckProbeResult'),
        exited('Task', 'CheckProbeResult'),
        entered('Wait', 'WaitForProbe'),
        exited('Wait', 'WaitForProbe'),
        entered('Task', 'CheckProbeResult'),
        exited('Task', 'CheckProbeResult'),
      ]),
    ).runs;
    expect(timePerState(runs, 0)).toEqual([
      { state: 'CheckProbeResult', seconds: 2, entries: 2 },
      { state: 'WaitForProbe', seconds: 1, entries: 1 },
    ]);
  });

  it('prints one line per finished state: elapsed, mark, name, own time, error', () => {
    const runs = readHistory(failed).runs;
    const start = Date.parse('2026-11-30T12:00:00Z');
    expect(stateLine(runs[0] as never, start)).toBe(`[   3.0 s] ✔ PrepareBuild${' '.repeat(13)}   2.0 s\n`);
    expect(stateLine(runs[1] as never, start)).toContain('✘ BakeImage');
    expect(stateLine(runs[1] as never, start)).toContain('States.TaskFailed: packer exited 1');
    expect(stateLine(runs[3] as never, start)).toContain('✘ PipelineFailed');
  });
});

describe('what a channel serves', () => {
  const image = (imageId: string, channel: string, extra: Partial<ImageRecord> = {}): ImageRecord => ({
    imageId,
    name: imageId,
    createdAt: '2026-11-01T00:00:00Z',
    snapshotIds: [],
    tags: {
      'factory:pipeline': 'web',
      'factory:channel': channel,
      'factory:build-id': `web-${imageId}`,
      'factory:commit': 'c'.repeat(40),
      'factory:source-ami': 'ami-0aaaaaaaaaaaaaaaa',
    },
    ...extra,
  });
  const at = (imageId: string, version: number) => ({
    imageId,
    version,
    location: '/image-factory/channels/web/stable',
    updatedAt: `2026-11-0${version}T00:00:00.000Z`,
  });

  it('current is the pointer; previous skips a withdrawn image and a deregistered one', () => {
    const rows = channelImages({
      pipeline: 'web',
      channel: 'stable',
      region: 'eu-west-1',
      history: [at('ami-d', 4), at('ami-c', 3), at('ami-gone', 2), at('ami-a', 1)],
      images: [
        image('ami-d', 'stable', { architecture: 'x86_64' }),
        image('ami-c', 'rolled-back'),
        image('ami-a', 'previous-stable'),
      ],
    });

    expect(rows).toEqual([
      expect.objectContaining({
        position: 'current',
        imageId: 'ami-d',
        found: true,
        architecture: 'x86_64',
        buildId: 'web-ami-d',
        commit: 'c'.repeat(40),
        sourceImageId: 'ami-0aaaaaaaaaaaaaaaa',
        version: 4,
        pointedAt: '2026-11-04T00:00:00.000Z',
        region: 'eu-west-1',
      }),
      expect.objectContaining({ position: 'previous', imageId: 'ami-a', version: 1 }),
    ]);
  });

  it("takes the architecture from EC2's Architecture", () => {
    expect(toImageRecord({ ImageId: 'ami-1', Architecture: 'arm64' }).architecture).toBe('arm64');
    expect(toImageRecord({ ImageId: 'ami-1' })).not.toHaveProperty('architecture');
  });

  it('shows a pointer that names a deregistered image as not found, and nothing for an empty channel', () => {
    const rows = channelImages({
      pipeline: 'web',
      channel: 'stable',
      region: 'local',
      history: [at('ami-gone', 1)],
      images: [],
    });
    expect(rows).toEqual([
      expect.objectContaining({ position: 'current', imageId: 'ami-gone', found: false }),
    ]);
    expect(
      channelImages({ pipeline: 'web', channel: 'stable', region: 'local', history: [], images: [] }),
    ).toEqual([]);
  });
});

describe('arguments and the execution input', () => {
  it('takes flags over --input, and numbers for --attempt', async () => {
    const raw = await rawExecutionInput({
      input: '{"pipeline":"api","baseImage":"al2023","channel":"beta"}',
      pipeline: 'web',
      attempt: '2',
      retentionDryRun: true,
    });
    expect(raw).toEqual({
      pipeline: 'web',
      baseImage: 'al2023',
      channel: 'beta',
      attempt: 2,
      retentionDryRun: true,
    });
  });

  it('--parent <pipeline>[/<channel>] gives the layered build its parent, validated as ExecutionInput', async () => {
    // Act
    const raw = await rawExecutionInput({ pipeline: 'web', parent: 'base' });
    const withChannel = await rawExecutionInput({ pipeline: 'web', parent: 'base/beta' });

    // Assess
    expect(raw).toEqual({ pipeline: 'web', parent: { pipeline: 'base' } });
    expect(validatedInput(raw)).toEqual({
      pipeline: 'web',
      parent: { pipeline: 'base', channel: 'stable' },
      channel: 'stable',
      trigger: 'manual',
    });
    expect(validatedInput(withChannel).parent).toEqual({ pipeline: 'base', channel: 'beta' });
    expect(() => validatedInput({ pipeline: 'web', parent: parentOption('web') })).toThrow(
      /pipeline web cannot be its own parent/,
    );
    expect(() => validatedInput({ ...raw, sourceImageId: 'ami-0123456789abcdef0' })).toThrow(
      /sourceImageId and parent exclude each other/,
    );
    expect(() => parentOption('base/stable/x')).toThrow(UsageError);
    expect(() => validatedInput({ pipeline: 'web', parent: parentOption('') })).toThrow(InvalidInput);
  });

  it('refuses --input that is not JSON (UsageError)', async () => {
    await expect(rawExecutionInput({ input: '{pipeline:' })).rejects.toThrow(UsageError);
  });

  it('validates with the execution input schema and the image definitions, as PrepareBuild does', () => {
    expect(validatedInput({ pipeline: 'web', baseImage: 'ubuntu-24.04' })).toEqual({
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      channel: 'stable',
      trigger: 'manual',
    });
    expect(() => validatedInput({ pipeline: 'web' })).toThrow(/baseImage is required/);
    expect(() => validatedInput({ pipeline: 'web', baseImage: 'ubuntu-24.04', attempt: 'x' })).toThrow(
      /attempt must be a whole number from 1 to 99/,
    );
    expect(() => validatedInput({ pipeline: 'web', baseImage: 'ubuntu-24.04', colour: 'red' })).toThrow(
      InvalidInput,
    );
    expect(() => validatedInput({ pipeline: 'edge', baseImage: 'ubuntu-24.04' })).toThrow(
      UnknownImageDefinition,
    );
  });

  it.each([
    ['3', 0, 3],
    ['0', 0, 0],
  ])('whole number option %s (min %s) → %s', (value, min, expected) => {
    expect(wholeOption('--limit', value, min)).toBe(expected);
  });

  it.each(['-1', '1.5', 'ten', '0'])('refuses %s as a whole number ≥ 1', (value) => {
    expect(() => wholeOption('--limit', value, 1)).toThrow(/--limit must be a whole number ≥ 1/);
  });

  it('outcome line: status, duration, failing state, error and cause', () => {
    expect(outcomeLine({ name: 'n', status: 'SUCCEEDED', seconds: 842 })).toBe('SUCCEEDED in 14m 02s\n');
    expect(
      outcomeLine({
        name: 'n',
        status: 'FAILED',
        seconds: 61,
        failingState: 'BakeImage',
        error: 'States.TaskFailed',
        cause: 'x',
      }),
    ).toBe('FAILED in 1m 01s at BakeImage: States.TaskFailed — x\n');
  });
});

describe('errors: what is wrong, what to do, exit status', () => {
  it.each([
    [new UsageError('bad', 'do this'), EXIT.usage, 'do this'],
    [new OperatorError('failed', 'retry'), EXIT.failed, 'retry'],
    [new InvalidInput('invalid execution input: x'), EXIT.usage, 'nothing was sent or changed'],
    [
      new PromotionLeaseHeld('dev#web#stable', 'web-stable-x', '2026-11-30T12:30:00.000Z'),
      EXIT.failed,
      'after 2026-11-30T12:30:00.000Z',
    ],
    [
      Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }),
      EXIT.failed,
      'AWS_PROFILE',
    ],
    [
      Object.assign(new Error('not allowed'), { name: 'AccessDeniedException', $metadata: {} }),
      EXIT.failed,
      'permissions',
    ],
    [
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      EXIT.failed,
      'AWS_ENDPOINT_URL',
    ],
    [
      new CommanderError(
        1,
        'commander.missingMandatoryOptionValue',
        "error: required option '--channel <name>' not specified",
      ),
      EXIT.usage,
      undefined,
    ],
  ])('%s → exit %s', (error, exitCode, hint) => {
    const explained = explain(error);
    expect(explained.exitCode).toBe(exitCode);
    if (hint) expect(explained.hint).toContain(hint);
    expect(explained.message).not.toMatch(/^error: /);
  });
});
