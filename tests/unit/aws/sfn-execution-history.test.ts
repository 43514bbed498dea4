/**
 * `SfnExecutionHistory` (`GetExecutionHistory`) with aws-sdk-client-mock: the pages of a
 * real-shaped history (`tests/events/stepfunctions/history-promoted.json`) become state runs; the
 * request asks for no execution data; errors reach the caller (the notify steps turn them into a note).
 */
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  ForeignExecution,
  HistoryTooLong,
  MAX_HISTORY_EVENTS,
  SfnExecutionHistory,
} from '#commons/aws/sfn-execution-history.js';
import { mockAws } from '../helpers/aws.js';
import { loadEvent } from '../helpers/lambda.js';

const sfn = mockAws(SFNClient);
const client = new SFNClient({ region: 'eu-west-1' });
const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:image-factory';
const ARN = 'arn:aws:states:eu-west-1:123456789012:execution:image-factory:web-1';

const historyEvents = (): HistoryEvent[] =>
  loadEvent<{ events: Array<Record<string, unknown>> }>('stepfunctions', 'history-promoted').events.map(
    (event) => ({ ...event, timestamp: new Date(String(event.timestamp)) }) as HistoryEvent,
  );

describe('SfnExecutionHistory', () => {
  it('reads every page, without execution data, into state runs', async () => {
    // Prepare: the history in two pages.
    const events = historyEvents();
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: ARN, nextToken: undefined })
      .resolves({ events: events.slice(0, 50), nextToken: 'page-2' })
      .on(GetExecutionHistoryCommand, { executionArn: ARN, nextToken: 'page-2' })
      .resolves({ events: events.slice(50) });

    // Act
    const { runs, startedAt } = await new SfnExecutionHistory(() => client, STATE_MACHINE).runsOf(ARN);

    // Assess
    const requests = sfn.commandCalls(GetExecutionHistoryCommand).map((call) => call.args[0].input);
    expect(requests).toEqual([
      expect.objectContaining({ executionArn: ARN, includeExecutionData: false, maxResults: 1000 }),
      expect.objectContaining({ nextToken: 'page-2' }),
    ]);
    expect(startedAt).toBe(Date.parse('2026-06-30T11:00:00.000Z'));
    expect(runs[0]).toMatchObject({ name: 'PrepareBuild', type: 'Task' });
    expect(runs.find((run) => run.name === 'BakeImage')).toMatchObject({
      enteredAt: Date.parse('2026-06-30T11:00:01.000Z'),
      exitedAt: Date.parse('2026-06-30T11:10:01.000Z'),
    });
    expect(runs.filter((run) => run.name === 'CheckInstanceOnline')).toHaveLength(2);
    expect(runs.at(-1)).toMatchObject({ name: 'NotifySuccess' });
    expect(runs.at(-1)?.exitedAt).toBeUndefined();
  });

  it('passes the SDK error on (the step reports without the history)', async () => {
    sfn
      .on(GetExecutionHistoryCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));

    await expect(new SfnExecutionHistory(() => client, STATE_MACHINE).runsOf(ARN)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it(`stops at ${MAX_HISTORY_EVENTS} events rather than paging without end`, async () => {
    const page = Array.from({ length: 1000 }, (_, i) => ({
      id: i + 1,
      type: 'WaitStateEntered' as const,
      timestamp: new Date(0),
    }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: page, nextToken: 'more' });

    await expect(new SfnExecutionHistory(() => client, STATE_MACHINE).runsOf(ARN)).rejects.toBeInstanceOf(
      HistoryTooLong,
    );
    expect(sfn.commandCalls(GetExecutionHistoryCommand)).toHaveLength(MAX_HISTORY_EVENTS / 1000 + 1);
  });

  it('does not ask for an execution of another state machine (its role may not read it)', async () => {
    const other = 'arn:aws:states:eu-west-1:123456789012:execution:image-factory-other:web-1';

    await expect(new SfnExecutionHistory(() => client, STATE_MACHINE).runsOf(other)).rejects.toBeInstanceOf(
      ForeignExecution,
    );
    expect(sfn.commandCalls(GetExecutionHistoryCommand)).toHaveLength(0);
  });
});
