/**
 * The local backend's `EventPublisher`: the factory's events appended to a JSON-lines event log in
 * the catalog (`<catalog>/events.jsonl`), one event per line in the shape EventBridge delivers to
 * a rule's target (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`,
 * `resources`, `detail`; https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html),
 * so the same JSON Schemas (`schemas/events/`) and consumers read both. `account` and `region` are
 * `local`; the stage is `local` too (local images carry no stage).
 *
 * Each line is written with one `appendFile` (O_APPEND): lines of concurrent local runs do not
 * interleave.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { EVENT_SOURCE, type EventOrigin, type FactoryEvent } from '#commons/core/events.js';
import { EventPublishFailed } from '#commons/errors.js';
import type { EventPublisher } from '#commons/ports.js';

/** File name of the event log in the catalog directory. */
export const EVENT_LOG_FILE = 'events.jsonl';

/** Stage and region of the local backend's events. */
export const LOCAL_ORIGIN: EventOrigin = { stage: 'local', region: 'local' };

/** One line of the event log: an event as EventBridge delivers it. */
export interface DeliveredEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** ISO 8601 time the event was written. */
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export class FileEventLog implements EventPublisher {
  readonly origin = LOCAL_ORIGIN;
  /** Absolute path of the log. */
  readonly file: string;

  constructor(
    catalogRoot: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.file = path.join(path.resolve(catalogRoot), EVENT_LOG_FILE);
  }

  /**
   * Append every event, in order.
   * @throws EventPublishFailed when the log cannot be written (the cause is the file system's error).
   */
  async publish(events: readonly FactoryEvent[]): Promise<void> {
    const lines = events
      .map((event) =>
        JSON.stringify({
          version: '0',
          id: randomUUID(),
          'detail-type': event.detailType,
          source: EVENT_SOURCE,
          account: 'local',
          time: this.now().toISOString(),
          region: this.origin.region,
          resources: [],
          detail: event.detail,
        } satisfies DeliveredEvent),
      )
      .join('\n');
    if (lines === '') return;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await appendFile(this.file, `${lines}\n`);
    } catch (error) {
      throw new EventPublishFailed(
        `cannot append to the event log ${this.file}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Every event of the log, oldest first (none when it does not exist yet). */
  async read(): Promise<DeliveredEvent[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as DeliveredEvent);
  }
}
