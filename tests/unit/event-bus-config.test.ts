import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const load = async () => (await import('#commons/config.js')).config;

beforeEach(() => {
  vi.resetModules(); // config caches each variable per module instance (one cold start)
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('config.eventBusName (EVENT_BUS_NAME)', () => {
  it('is the default bus when unset or empty (a stage parameter rendered as "")', async () => {
    vi.stubEnv('EVENT_BUS_NAME', undefined);
    expect((await load()).eventBusName).toBe('default');
    vi.resetModules();
    vi.stubEnv('EVENT_BUS_NAME', '');
    expect((await load()).eventBusName).toBe('default');
  });

  it('takes a bus name of the account', async () => {
    vi.stubEnv('EVENT_BUS_NAME', 'image-factory.events_prod-1');
    expect((await load()).eventBusName).toBe('image-factory.events_prod-1');
  });

  it.each(['arn:aws:events:eu-west-1:123456789012:event-bus/factory', 'factory bus', 'x'.repeat(257)])(
    'refuses %s with MissingConfiguration naming the variable',
    async (value) => {
      vi.stubEnv('EVENT_BUS_NAME', value);
      const config = await load();
      expect(() => config.eventBusName).toThrow(
        expect.objectContaining({
          name: 'MissingConfiguration',
          message: expect.stringContaining('EVENT_BUS_NAME must be an event bus name'),
        }),
      );
    },
  );
});
