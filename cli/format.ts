/**
 * Output formatting of the operator CLI: durations, ages, plain tables (cli-table3 without colours,
 * so that output is the same in a terminal, a pipe and a test) and the `--json` rendering.
 */
import Table from 'cli-table3';

/**
 * A duration for people: `0.4 s`, `12.3 s`, `3m 05s`, `1h 02m`, `2d 03h`.
 * @param seconds non-negative seconds; a negative or non-finite value gives `-`.
 */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.floor(seconds);
  const pad = (value: number): string => String(value).padStart(2, '0');
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${pad(whole % 60)}s`;
  if (whole < 86_400) return `${Math.floor(whole / 3600)}h ${pad(Math.floor((whole % 3600) / 60))}m`;
  return `${Math.floor(whole / 86_400)}d ${pad(Math.floor((whole % 86_400) / 3600))}h`;
};

/** Seconds from `from` (ISO 8601) to `to`, or undefined when `from` is not a date. */
export const secondsBetween = (from: string | undefined, to: Date): number | undefined => {
  const start = from === undefined ? Number.NaN : Date.parse(from);
  return Number.isNaN(start) ? undefined : (to.getTime() - start) / 1000;
};

/** The age of something created at `createdAt` (ISO 8601) as of `now`: `3d 04h`, or `-` when undated. */
export const formatAge = (createdAt: string | undefined, now: Date): string => {
  const seconds = secondsBetween(createdAt, now);
  return seconds === undefined ? '-' : formatDuration(Math.max(0, seconds));
};

/** A git commit as shown in tables: its first 12 characters, or `-`. */
export const shortCommit = (commit: string | undefined): string => (commit ? commit.slice(0, 12) : '-');

/** cli-table3 border characters: none but two spaces between columns (as kubectl and docker print). */
const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/**
 * A borderless table with a header row, columns two spaces apart. Cells are strings; undefined
 * and empty cells print as `-`. No colours and no word wrapping: a long cell widens its column.
 */
export const renderTable = (
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | undefined>>,
): string => {
  const table = new Table({
    head: [...head],
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) table.push(row.map((cell) => (cell === undefined || cell === '' ? '-' : cell)));
  const lines = table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
  return `${lines.join('\n')}\n`;
};

/** `--json` output: two-space indented, one trailing newline. */
export const renderJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
