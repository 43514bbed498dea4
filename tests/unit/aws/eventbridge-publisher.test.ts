/**
 * `EventBridgePublisher` with aws-sdk-client-mock: the entries it puts (source, detail-type, detail
 * as a JSON object string, the configured bus), 10 per request, and a 200 answer that reports
 * failed entries (`FailedEntryCount` > 0) treated as the error it is.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import {
  EventBridgePublisher,
  entrySize,
  PUT_EVENTS_MAX_ENTRY_BYTES,
  toPutEventsEntry,
} from '#commons/aws/eventbridge-publisher.js';
import { buildFailed, EVENT_SOURCE, type FactoryEvent } from '#commons/core/events.js';
import { mockAws } from '../helpers/aws.js';
import { BUILD } from '../helpers/fixtures.js';

const eventBridge = mockAws(EventBridgeClient);
const client = new EventBridgeClient({ region: 'eu-west-1' });
const ORIGIN = { stage: 'prod', region: 'eu-west-1' };
const publisher = new EventBridgePublisher(() => client, 'factory-bus', ORIGIN);

const failure = (n: number, cause = 'probe failed'): FactoryEvent =>
  buildFailed(ORIGIN, {
    build: { ...BUILD, buildId: `web-${String(n).padStart(12, '0')}` },
    error: { Error: 'ProbeFailed', Cause: cause },
    failedState: 'CheckProbeResult',
  });

describe('EventBridgePublisher', () => {
  it('puts each event on the configured bus with the factory source and the detail as a JSON object', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });

    await publisher.publish([failure(1)]);

    const [call] = eventBridge.commandCalls(PutEventsCommand);
    const entry = call?.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({
      EventBusName: 'factory-bus',
      Source: EVENT_SOURCE,
      DetailType: 'Build Failed',
    });
    expect(JSON.parse(entry?.Detail ?? '')).toMatchObject({ buildId: 'web-000000000001', stage: 'prod' });
  });

  it('sends at most 10 entries per request, in order', async () => {
    eventBridge.on(PutEventsCommand).callsFake(async (input: { Entries?: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: (input.Entries ?? []).map((_, n) => ({ EventId: `e-${n}` })),
    }));

    await publisher.publish(Array.from({ length: 23 }, (_, n) => failure(n)));

    const sizes = eventBridge
      .commandCalls(PutEventsCommand)
      .map((call) => call.args[0].input.Entries?.length);
    expect(sizes).toEqual([10, 10, 3]);
    const ids = eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((entry) => JSON.parse(entry.Detail ?? '{}').buildId);
    expect(ids).toEqual(Array.from({ length: 23 }, (_, n) => `web-${String(n).padStart(12, '0')}`));
  });

  it('throws EventPublishFailed when the 200 answer reports a failed entry, naming its error code', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ EventId: 'e-1' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });

    await expect(publisher.publish([failure(1), failure(2)])).rejects.toMatchObject({
      name: 'EventPublishFailed',
      message: expect.stringContaining(
        '1 of 2 event(s) on bus factory-bus: Build Failed: InternalFailure try again',
      ),
    });
  });

  it('does not send the next batch after a failed one', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 10, Entries: [] });

    await expect(publisher.publish(Array.from({ length: 12 }, (_, n) => failure(n)))).rejects.toMatchObject({
      name: 'EventPublishFailed',
    });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('wraps a refused request (e.g. AccessDeniedException) in EventPublishFailed, the SDK error as cause', async () => {
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    eventBridge.on(PutEventsCommand).rejects(denied);

    const error = await publisher.publish([failure(1)]).catch((caught: Error) => caught);

    expect(error).toMatchObject({
      name: 'EventPublishFailed',
      message: 'PutEvents on bus factory-bus failed: AccessDeniedException: not authorized',
    });
    expect((error as Error).cause).toBe(denied);
  });

  it('refuses an entry larger than 256 KB before sending anything', async () => {
    const large = failure(1);
    (large.detail as unknown as { error: { cause: string } }).error.cause = 'é'.repeat(
      PUT_EVENTS_MAX_ENTRY_BYTES / 2,
    );

    await expect(publisher.publish([failure(2), large])).rejects.toMatchObject({
      name: 'EventPublishFailed',
      message: expect.stringContaining('more than the 262144 EventBridge accepts'),
    });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('counts an entry as EventBridge does: UTF-8 bytes of source, detail-type, detail, resources; 14 for Time', () => {
    expect(entrySize({ Source: 'ab', DetailType: 'c', Detail: '{"é":1}', Resources: ['xy'] })).toBe(
      2 + 1 + 8 + 2,
    );
    expect(entrySize({ Source: 'ab', DetailType: 'c', Time: new Date() })).toBe(17);
    expect(entrySize(toPutEventsEntry(failure(1), 'default'))).toBeLessThan(PUT_EVENTS_MAX_ENTRY_BYTES);
  });
});
