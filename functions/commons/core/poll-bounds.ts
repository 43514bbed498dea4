/**
 * Handler-side bounds of the pipeline's two poll loops: how many checks a poll Task makes before
 * it throws its own error (`InstanceNeverOnline`, `ProbeTimedOut`) with its detail.
 *
 * The ASL has its own, outer bound on each loop (`pollLoops()` in `statemachines/definition.ts`
 * reads it); when that one fires first, a Pass state records the error without the handler's
 * detail. So every handler bound stays below the ASL's for the same loop;
 * `tests/statemachine/poll-bounds.test.ts` pins that for these values and for the local runner's.
 */

/** The poll Task states, named as in the ASL. */
export type PollCheck = 'CheckInstanceOnline' | 'CheckProbeResult';

/** The poll Task states, in pipeline order. */
export const POLL_CHECKS: readonly PollCheck[] = ['CheckInstanceOnline', 'CheckProbeResult'];

/**
 * Bounds on AWS (checks; the defaults of `ONLINE_MAX_ATTEMPTS` / `PROBE_MAX_ATTEMPTS`), sized by
 * `npm run bench:aws-model`.
 */
export const HANDLER_POLL_BOUNDS: Readonly<Record<PollCheck, number>> = {
  CheckInstanceOnline: 30,
  CheckProbeResult: 40,
};

/**
 * The largest handler bound that still fires before an ASL bound of `aslMaxAttempts` checks.
 * @throws RangeError when `aslMaxAttempts` is not an integer of at least 2.
 */
export function boundBelow(aslMaxAttempts: number): number {
  if (!Number.isInteger(aslMaxAttempts) || aslMaxAttempts < 2)
    throw new RangeError(`an ASL poll bound must be an integer of at least 2, got ${aslMaxAttempts}`);
  return aslMaxAttempts - 1;
}
