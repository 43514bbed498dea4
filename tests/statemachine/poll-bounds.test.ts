/**
 * Poll bounds have one source each: the ASL's outer bounds live in image-factory.asl.yaml
 * (`pollLoops()`), the AWS handler bounds in `core/poll-bounds.ts` (the config defaults; serverless.yml
 * does not set them), and the local runner derives its bounds from the ASL. Every handler bound
 * stays below the ASL's for the same loop, so the handler's error is the one reported.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { boundBelow, HANDLER_POLL_BOUNDS, POLL_CHECKS } from '#commons/core/poll-bounds.js';
import { localPollBounds } from '#local/poll-bounds.js';
import { pollLoops } from '#statemachines/definition.js';
import { serverless } from './serverless-config.js';

const loops = pollLoops();

describe('poll bounds', () => {
  beforeEach(() => {
    vi.resetModules(); // config caches each variable per module instance
    vi.stubEnv('ONLINE_MAX_ATTEMPTS', undefined);
    vi.stubEnv('PROBE_MAX_ATTEMPTS', undefined);
  });
  afterEach(() => vi.unstubAllEnvs());

  it('name exactly the poll loops of the ASL', () => {
    expect([...POLL_CHECKS].sort()).toEqual(Object.keys(loops).sort());
    expect(Object.keys(HANDLER_POLL_BOUNDS).sort()).toEqual(Object.keys(loops).sort());
  });

  it.each(POLL_CHECKS)('%s: the AWS handler bound is positive and below the ASL bound', (check) => {
    expect(HANDLER_POLL_BOUNDS[check]).toBeGreaterThan(0);
    expect(HANDLER_POLL_BOUNDS[check]).toBeLessThan(loops[check]?.maxAttempts as number);
  });

  it.each(POLL_CHECKS)('%s: the local bound is one check below the ASL bound', (check) => {
    expect(localPollBounds()[check]).toBe((loops[check]?.maxAttempts as number) - 1);
  });

  it('are the config defaults when the environment does not set them', async () => {
    const { config } = await import('#commons/config.js');

    expect(config.onlineMaxAttempts).toBe(HANDLER_POLL_BOUNDS.CheckInstanceOnline);
    expect(config.probeMaxAttempts).toBe(HANDLER_POLL_BOUNDS.CheckProbeResult);
  });

  it('are not set again in serverless.yml', () => {
    const env = serverless.provider.environment;

    expect(env).not.toHaveProperty('ONLINE_MAX_ATTEMPTS');
    expect(env).not.toHaveProperty('PROBE_MAX_ATTEMPTS');
  });

  it('refuse an ASL without one of the loops, naming it', () => {
    const { CheckProbeResult: _dropped, ...online } = loops;

    expect(() => localPollBounds(online)).toThrow('the ASL has no bounded poll loop at CheckProbeResult');
  });

  it.each([1, 0, 2.5])('refuse an ASL bound of %s that leaves no room below it', (bound) => {
    expect(() => boundBelow(bound)).toThrow(RangeError);
  });
});
