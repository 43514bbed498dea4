/**
 * Stage parameters that hold a JSON object of objects, keyed by what they configure (`distribution`
 * by pipeline, `rollout` by `<pipeline>/<channel>`). Pure.
 */

/** How one such setting names its keys and entries in its error messages. */
export interface JsonObjectSettingShape {
  /** What the keys are, after "must be a JSON object keyed by" (e.g. `pipeline name`). */
  keyedBy: string;
  /** Why `key` is not a valid key, or undefined when it is (default: every key is). */
  keyProblem?: (key: string) => string | undefined;
  /** How an entry is named in "the entry of … must be an object" (default: the key). */
  entryName?: (key: string) => string;
  /** What follows "must be an object" (e.g. ` ({} for the defaults)`; default nothing). */
  entryHint?: string;
}

/**
 * Parse a JSON-object-of-objects setting: '' (or whitespace) is `{}`. Only the shape and the keys
 * are checked here; each entry's values are the caller's (when a build that uses it starts).
 * @throws Error naming the first problem: not JSON, not an object, a bad key, an entry that is not
 *   an object.
 */
export const parseJsonObjectSetting = (
  value: string,
  shape: JsonObjectSettingShape,
): Record<string, unknown> => {
  if (value.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`must be a JSON object keyed by ${shape.keyedBy}`);
  for (const [key, entry] of Object.entries(parsed)) {
    const problem = shape.keyProblem?.(key);
    if (problem !== undefined) throw new Error(problem);
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      throw new Error(
        `the entry of ${shape.entryName?.(key) ?? key} must be an object${shape.entryHint ?? ''}`,
      );
  }
  return parsed as Record<string, unknown>;
};
