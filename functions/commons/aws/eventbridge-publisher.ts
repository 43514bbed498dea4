/**
 * `EventPublisher` on Amazon EventBridge: `PutEvents` to one event bus of the account (the
 * default bus unless the stage names another, `eventBusName`).
 *
 * Facts of the API this adapter relies on:
 * - `PutEvents` answers HTTP 200 even when entries failed: "if an individual entry within a request
 *   fails, EventBridge continues processing the rest of the entries ... You must detect unsuccessful
 *   entries"; the response's `FailedEntryCount` counts them and each failed result entry carries
 *   `ErrorCode` / `ErrorMessage` at the index of its request entry. A failed entry is an error here
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html, "Handling failures
 *   with PutEvents").
 * - At most 10 entries per request (`Entries`: 1-10 items,
 *   https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html): larger batches
 *   are sent in chunks of 10.
 * - An entry is at most 256 KB, counted as the UTF-8 bytes of `Source`, `DetailType`, `Detail` and
 *   each `Resources` entry, plus 14 bytes for `Time`
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html): a larger entry
 *   is refused before sending.
 * - `Detail` is "a valid JSON object" (a string holding one); `Source` may not start with `aws.`,
 *   which is reserved for AWS services
 *   (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html).
 *   `core/events.ts` `EVENT_SOURCE` does not (`tests/unit/core/events.test.ts`).
 * - IAM: `events:PutEvents` on the bus's ARN `arn:<partition>:events:<region>:<account>:event-bus/<name>`
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html); the roles
 *   also condition on `events:source` and `events:detail-type` (`serverless/lambda-roles.yml`).
 *
 * Transient errors of the call itself (throttling, 5xx) are retried by the SDK (`lazy-client.ts`);
 * what still fails, and a failed entry, is not retried here: the step fails with `EventPublishFailed` and its retry
 * (the ASL retrier) publishes again. Consumers dedupe (`core/events.ts`).
 */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { ClientProvider } from '../clients/lazy-client.js';
import { EVENT_SOURCE, type EventOrigin, type FactoryEvent } from '../core/events.js';
import { EventPublishFailed } from '../errors.js';
import type { EventPublisher } from '../ports.js';

/** Most entries of one `PutEvents` request. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/** Largest entry, in bytes (256 KB). */
export const PUT_EVENTS_MAX_ENTRY_BYTES = 256 * 1024;

/** Size of an entry as EventBridge counts it (UTF-8 bytes; `Time` counts 14). */
export const entrySize = (entry: PutEventsRequestEntry): number => {
  const bytes = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));
  return (
    (entry.Time ? 14 : 0) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + bytes(resource), 0)
  );
};

/**
 * The `PutEvents` entry of an event: source {@link EVENT_SOURCE}, the detail as a JSON object string.
 * @throws EventPublishFailed when the entry is larger than {@link PUT_EVENTS_MAX_ENTRY_BYTES}.
 */
export const toPutEventsEntry = (event: FactoryEvent, eventBusName: string): PutEventsRequestEntry => {
  const entry: PutEventsRequestEntry = {
    EventBusName: eventBusName,
    Source: EVENT_SOURCE,
    DetailType: event.detailType,
    Detail: JSON.stringify(event.detail),
  };
  const size = entrySize(entry);
  if (size > PUT_EVENTS_MAX_ENTRY_BYTES) {
    throw new EventPublishFailed(
      `${event.detailType} of ${event.detail.pipeline}/${event.detail.channel} is ${size} bytes, more than the ${PUT_EVENTS_MAX_ENTRY_BYTES} EventBridge accepts`,
    );
  }
  return entry;
};

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: ClientProvider<EventBridgeClient>,
    /** Name of the event bus (`default`: the account's default bus in the region). */
    private readonly eventBusName: string,
    readonly origin: EventOrigin,
  ) {}

  /**
   * Put every event on the bus, 10 per request, in order.
   * @throws EventPublishFailed naming each failed entry's detail-type and error code when
   *   `FailedEntryCount` > 0 (the other entries of the request were put), when an entry is too
   *   large, or when the request itself is refused (e.g. `AccessDeniedException`, the SDK's error as
   *   `cause`): one error name for the ASL to retry on.
   */
  async publish(events: readonly FactoryEvent[]): Promise<void> {
    const entries = events.map((event) => toPutEventsEntry(event, this.eventBusName));
    for (let start = 0; start < entries.length; start += PUT_EVENTS_MAX_ENTRIES) {
      const batch = entries.slice(start, start + PUT_EVENTS_MAX_ENTRIES);
      let response: PutEventsCommandOutput;
      try {
        response = await this.client().send(new PutEventsCommand({ Entries: batch }));
      } catch (error) {
        // Refused as a whole (after the SDK's own retries): the step fails as for a failed entry.
        throw new EventPublishFailed(
          `PutEvents on bus ${this.eventBusName} failed: ${(error as Error).name}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      const failed = (response.Entries ?? [])
        .map((result, index) => ({ result, entry: batch[index] }))
        .filter(({ result }) => result.ErrorCode !== undefined);
      if ((response.FailedEntryCount ?? 0) > 0 || failed.length > 0) {
        const detail = failed
          .map(({ result, entry }) =>
            `${entry?.DetailType}: ${result.ErrorCode} ${result.ErrorMessage ?? ''}`.trim(),
          )
          .join('; ');
        throw new EventPublishFailed(
          `EventBridge did not accept ${response.FailedEntryCount ?? failed.length} of ${batch.length} event(s) on bus ${this.eventBusName}: ${detail || 'no error code given'}`,
        );
      }
    }
  }
}
