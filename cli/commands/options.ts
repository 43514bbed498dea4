/** Parsers of command-line option values; each throws `UsageError` naming the option. */
import { UsageError } from '../errors.js';

/** A whole number ≥ `min` given on the command line. @throws UsageError naming the option. */
export function wholeOption(name: string, value: string, min = 0): number {
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new UsageError(`${name} must be a whole number ≥ ${min}, got "${value}"`);
  }
  return Number(value);
}

/** A number of seconds > 0 given on the command line. @throws UsageError naming the option. */
export function secondsOption(name: string, value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`${name} must be a number of seconds > 0, got "${value}"`);
  return seconds;
}

/**
 * `--parent <pipeline>[/<channel>]` as the execution input's `parent` (`{ pipeline, channel? }`),
 * validated afterwards with the rest of the input (channel default `stable`).
 * @throws UsageError for more than one `/`.
 */
export function parentOption(value: string): { pipeline: string; channel?: string } {
  const [pipeline = '', channel, ...rest] = value.split('/');
  if (rest.length > 0)
    throw new UsageError(
      `--parent must be <pipeline>[/<channel>], got "${value}"`,
      'name the parent pipeline and, optionally, its channel: --parent base/stable',
    );
  return channel === undefined ? { pipeline } : { pipeline, channel };
}
