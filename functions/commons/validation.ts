/**
 * Turning a failed zod (or Standard Schema) parse into an `InvalidInput` whose message lists each
 * problem as `path: message`, for handlers (parser middleware) and for code that parses by hand.
 */
import type * as z from 'zod';
import { InvalidInput } from './errors.js';

/** Standard Schema issue, as carried by Powertools' `ParseError.cause`. */
interface Issue {
  message: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined;
}

/** Render issues as `path: message; …` for an `InvalidInput` message. */
export const formatIssues = (issues: readonly Issue[]): string =>
  issues
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((part) => (typeof part === 'object' && part !== null && 'key' in part ? part.key : part))
        .map(String)
        .join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');

/** Result of the Powertools parser middleware with `safeParse: true`. */
export type SafeParsed<T> =
  | { success: true; data: T }
  | { success: false; error: Error; originalEvent?: unknown };

/**
 * Unwrap a Powertools safe-parse result (parser middleware with `safeParse: true`).
 * @throws InvalidInput listing what is wrong and what is expected.
 */
export const requireValid = <T>(result: SafeParsed<T>): T => {
  if (result.success) return result.data;
  const cause = result.error.cause;
  const detail = Array.isArray(cause) ? formatIssues(cause as Issue[]) : result.error.message;
  throw new InvalidInput(`invalid input: ${detail}`, { cause: result.error });
};

/**
 * Parse a value with a schema outside the middleware (e.g. a JSON body).
 * @throws InvalidInput listing what is wrong and what is expected.
 */
export const parseOrThrow = <S extends z.ZodType>(schema: S, value: unknown, what = 'input'): z.output<S> => {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidInput(`invalid ${what}: ${formatIssues(result.error.issues)}`, { cause: result.error });
};
