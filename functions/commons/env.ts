/**
 * Readers of environment variables for `config.ts`: each reads its variable once per cold start
 * (module instance) and caches the value, and turns anything wrong into a `MissingConfiguration`
 * that names the variable. Built on Powertools' `commons/utils/env` readers.
 */
import { getNumberFromEnv, getStringFromEnv } from '@aws-lambda-powertools/commons/utils/env';
import { MissingConfiguration } from './errors.js';

const cache = new Map<string, unknown>();

/**
 * `read()` on the first call for `key`, its cached value afterwards (one read per cold start).
 * @throws MissingConfiguration naming `key` when `read` throws (its message kept).
 */
export const once = <T>(key: string, read: () => T): T => {
  if (!cache.has(key)) {
    try {
      cache.set(key, read());
    } catch (error) {
      if (error instanceof MissingConfiguration) throw error;
      throw new MissingConfiguration(
        `environment variable ${key} is missing or invalid: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return cache.get(key) as T;
};

/**
 * The raw value of a variable that must be set and non-empty (deployment tools often render an
 * unset parameter as ''). Not cached: getters that derive a value from it cache the derived value.
 * @throws MissingConfiguration naming the variable.
 */
export const readRequired = (key: string, description: string): string => {
  const message = `environment variable ${key} is required (${description})`;
  const value = getStringFromEnv({ key, errorMessage: message });
  if (value === '') throw new MissingConfiguration(message);
  return value;
};

/** A variable that must be set and non-empty, cached (see {@link readRequired}). */
export const required = (key: string, description: string): string =>
  once(key, () => readRequired(key, description));

/** A variable's value, cached; undefined when unset or empty. */
export const optional = (key: string): string | undefined =>
  once(key, () => {
    const value = getStringFromEnv({ key, defaultValue: '' });
    return value === '' ? undefined : value;
  });

/**
 * A whole number > 0, cached; `defaultValue` when unset.
 * @throws MissingConfiguration naming the variable and its value otherwise.
 */
export const positiveInt = (key: string, defaultValue: number): number =>
  once(key, () => {
    const value = getNumberFromEnv({ key, defaultValue });
    if (!Number.isInteger(value) || value <= 0) {
      throw new MissingConfiguration(
        `environment variable ${key} must be a positive integer, got "${process.env[key]}"`,
      );
    }
    return value;
  });

/** A `true` / `false` variable (any case), cached; `false` when unset. */
export const flag = (key: string): boolean =>
  once(key, () => {
    const value = getStringFromEnv({ key, defaultValue: 'false' }).toLowerCase();
    if (value !== 'true' && value !== 'false') {
      throw new MissingConfiguration(`environment variable ${key} must be "true" or "false", got "${value}"`);
    }
    return value === 'true';
  });
