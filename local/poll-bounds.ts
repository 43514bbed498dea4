/**
 * The local runner's handler-side poll bounds, derived from the ASL.
 *
 * A local VM boots and probes on a different clock than EC2, so the local runner sets its own
 * poll intervals; its time budget per loop is the ASL's bound times that interval. The handler
 * bound is one check below the ASL's bound (`boundBelow`): the handler's error, with its
 * detail, is the one reported, and the budget is the ASL's.
 */
import { boundBelow, POLL_CHECKS, type PollCheck } from '#commons/core/poll-bounds.js';
import { type PollLoop, pollLoops } from '#statemachines/definition.js';

/**
 * Checks before `InstanceNeverOnline` / `ProbeTimedOut` locally, per poll Task state.
 * @param loops the ASL's poll loops (default: read from `statemachines/image-factory.asl.yaml`).
 * @throws Error when the ASL has no bounded poll loop at one of {@link POLL_CHECKS}.
 */
export function localPollBounds(loops: Record<string, PollLoop> = pollLoops()): Record<PollCheck, number> {
  const bounds = {} as Record<PollCheck, number>;
  for (const check of POLL_CHECKS) {
    const loop = loops[check];
    if (loop === undefined) throw new Error(`the ASL has no bounded poll loop at ${check}`);
    bounds[check] = boundBelow(loop.maxAttempts);
  }
  return bounds;
}
