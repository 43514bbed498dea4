/**
 * Following an execution live: read its history every `pollMs`, print one line per state as it
 * finishes (with the time since the execution started and the state's own time), until the
 * execution ends. Backend-neutral: the caller gives the history reader.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type HistoryEventLike, type StateRun, StateTracker } from '#commons/core/execution-history.js';
import type { Spinner } from './backend.js';
import { formatDuration } from './format.js';

/** Choice states decide in no time; their lines would only repeat the poll loops. */
const SILENT_TYPES = new Set(['Choice']);
const CAUSE_CHARS = 300;

/** `[  1m 02s] ✔ PrepareBuild  1.2 s` — one finished state. */
export const stateLine = (run: StateRun, startedAt: number): string => {
  const elapsed = formatDuration(((run.exitedAt ?? run.enteredAt) - startedAt) / 1000).padStart(8);
  const own = formatDuration(((run.exitedAt ?? run.enteredAt) - run.enteredAt) / 1000);
  const mark = run.failure || run.type === 'Fail' ? '✘' : '✔';
  const failure = run.failure
    ? `  ${run.failure.error}${run.failure.cause ? `: ${run.failure.cause.slice(0, CAUSE_CHARS)}` : ''}`
    : '';
  return `[${elapsed}] ${mark} ${run.name.padEnd(24)} ${own.padStart(8)}${failure}\n`;
};

/**
 * Follow until the history shows the end of the execution.
 * @param fetch the events newer than `afterId` (any order).
 * @returns the tracker, with `end` set (or unset when `signal` stopped the following).
 */
export const followHistory = async (options: {
  fetch: (afterId: number) => Promise<HistoryEventLike[]>;
  write: (text: string) => void;
  pollMs: number;
  signal: AbortSignal;
  spinner?: Spinner | undefined;
  now?: () => number;
}): Promise<StateTracker> => {
  const tracker = new StateTracker();
  const now = options.now ?? Date.now;
  const print = (text: string): void => {
    if (options.spinner) options.spinner.around(() => options.write(text));
    else options.write(text);
  };
  try {
    while (!options.signal.aborted) {
      const closed = tracker.add(await options.fetch(tracker.lastId));
      const startedAt = tracker.startedAt ?? now();
      for (const run of closed.filter((r) => !SILENT_TYPES.has(r.type))) print(stateLine(run, startedAt));
      if (tracker.end) break;
      const open = tracker.open;
      options.spinner?.update(
        open ? `${open.name} ${formatDuration((now() - open.enteredAt) / 1000)}` : 'starting',
      );
      await sleep(options.pollMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  } finally {
    options.spinner?.stop();
  }
  return tracker;
};
