import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const load = async () => (await import('#commons/config.js')).config;
/** The error `read` throws (the module is reloaded per test, so compare by name, not class). */
const thrown = (read: () => unknown): Error | undefined => {
  try {
    read();
  } catch (error) {
    return error as Error;
  }
  return undefined;
};

beforeEach(() => {
  vi.resetModules(); // config caches each variable per module instance (one cold start)
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('config', () => {
  it('names the missing variable', async () => {
    vi.stubEnv('STATE_MACHINE_ARN', '');
    const config = await load();
    expect(thrown(() => config.stateMachineArn)).toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining('STATE_MACHINE_ARN'),
    });
  });

  it('region: AWS_REGION as the Lambda runtime sets it, MissingConfiguration naming it when unset', async () => {
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    expect((await load()).region).toBe('eu-west-1');
    vi.stubEnv('AWS_REGION', undefined);
    vi.resetModules();
    const config = await load();
    expect(thrown(() => config.region)).toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining('AWS_REGION'),
    });
  });

  it('applies documented defaults', async () => {
    for (const key of [
      'CHANNEL_PARAMETER_PREFIX',
      'RETENTION_MAX_AGE_DAYS',
      'RETENTION_KEEP_LATEST',
      'RETENTION_DRY_RUN',
      'TEST_SUBNET_ID',
    ]) {
      vi.stubEnv(key, undefined);
    }
    vi.stubEnv('STAGE', 'prod');
    const config = await load();
    expect(config.channelParameterPrefix).toBe('/image-factory/prod/channels');
    expect(config.retentionMaxAgeDays).toBe(30);
    expect(config.retentionKeepLatest).toBe(3);
    expect(config.retentionDryRun).toBe(false);
    expect(config.testSubnetId).toBeUndefined();
  });

  it('puts the SSM prefixes under the stage by default, so two stages never share a parameter', async () => {
    vi.stubEnv('CHANNEL_PARAMETER_PREFIX', undefined);
    vi.stubEnv('LAST_SEEN_PARAMETER_PREFIX', '/acme/last-seen/');
    vi.stubEnv('STAGE', 'dev');
    const config = await load();
    expect(config.channelParameterPrefix).toBe('/image-factory/dev/channels');
    expect(config.lastSeenParameterPrefix).toBe('/acme/last-seen');
  });

  it('refuses a default prefix without a stage, and a stage that is no stage name', async () => {
    vi.stubEnv('CHANNEL_PARAMETER_PREFIX', undefined);
    vi.stubEnv('STAGE', undefined);
    const config = await load();
    expect(thrown(() => config.channelParameterPrefix)).toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining('STAGE'),
    });
    vi.resetModules();
    vi.stubEnv('STAGE', 'dev/prod');
    const invalid = await load();
    expect(thrown(() => invalid.stage)).toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining('letters, digits and "-"'),
    });
  });

  it('reads once: later changes to the environment are not seen', async () => {
    vi.stubEnv('RETENTION_MAX_AGE_DAYS', '14');
    const config = await load();
    expect(config.retentionMaxAgeDays).toBe(14);
    vi.stubEnv('RETENTION_MAX_AGE_DAYS', '60');
    expect(config.retentionMaxAgeDays).toBe(14);
  });

  it.each([
    ['RETENTION_MAX_AGE_DAYS', 'thirty', 'retentionMaxAgeDays'],
    ['RETENTION_KEEP_LATEST', '0', 'retentionKeepLatest'],
    ['PROBE_TIMEOUT_SECONDS', '1.5', 'probeTimeoutSeconds'],
    ['RETENTION_DRY_RUN', 'maybe', 'retentionDryRun'],
  ] as const)('rejects %s=%s naming the variable', async (key, value, getter) => {
    vi.stubEnv(key, value);
    const config = await load();
    expect(thrown(() => config[getter])).toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining(key),
    });
  });

  it('parses PIPELINES with per-pipeline image definitions and channels', async () => {
    vi.stubEnv('PIPELINES', 'web=ubuntu-24.04, ci=base@al2023:beta,edge=web@debian-12');
    vi.stubEnv('DEFAULT_CHANNEL', 'stable');
    const config = await load();
    expect(config.pipelines).toEqual([
      {
        pipeline: 'web',
        imageDefinition: 'web',
        baseImage: 'ubuntu-24.04',
        channel: 'stable',
        architectures: ['x86_64'],
      },
      {
        pipeline: 'ci',
        imageDefinition: 'base',
        baseImage: 'al2023',
        channel: 'beta',
        architectures: ['x86_64'],
      },
      {
        pipeline: 'edge',
        imageDefinition: 'web',
        baseImage: 'debian-12',
        channel: 'stable',
        architectures: ['x86_64'],
      },
    ]);
  });

  it('adds the ARCHITECTURES each pipeline declares, and refuses a bad one naming the variable', async () => {
    vi.stubEnv('PIPELINES', 'web=ubuntu-24.04,edge=web@debian-12');
    vi.stubEnv('ARCHITECTURES', 'web=arm64+x86_64,edge=arm64');
    const config = await load();
    expect(config.pipelines.map((entry) => [entry.pipeline, entry.architectures])).toEqual([
      ['web', ['x86_64', 'arm64']],
      ['edge', ['arm64']],
    ]);
    vi.stubEnv('ARCHITECTURES', 'web=aarch64');
    vi.resetModules();
    const broken = await load();
    expect(() => broken.architectureSettings).toThrow(
      /environment variable ARCHITECTURES has an invalid entry "web=aarch64": "aarch64" is not an architecture/,
    );
  });

  it('reads the builder and test instance types per architecture, with the defaults', async () => {
    vi.stubEnv('BUILDER_INSTANCE_TYPE_ARM64', 'c7g.large');
    const config = await load();
    expect(config.instanceTypes).toEqual({
      x86_64: { builder: 't3.small', test: 't3.small' },
      arm64: { builder: 'c7g.large', test: 't4g.small' },
    });
  });

  it('parses layered PIPELINES entries: a parent pipeline and its channel as the source', async () => {
    vi.stubEnv('PIPELINES', 'base=ubuntu-24.04,web=web@pipeline:base/beta:edge,api=web@pipeline:web');
    vi.stubEnv('DEFAULT_CHANNEL', 'stable');
    const config = await load();
    expect(config.pipelines).toEqual([
      {
        pipeline: 'base',
        imageDefinition: 'base',
        baseImage: 'ubuntu-24.04',
        channel: 'stable',
        architectures: ['x86_64'],
      },
      {
        pipeline: 'web',
        imageDefinition: 'web',
        parent: { pipeline: 'base', channel: 'beta' },
        channel: 'edge',
        architectures: ['x86_64'],
      },
      {
        pipeline: 'api',
        imageDefinition: 'web',
        parent: { pipeline: 'web', channel: 'stable' },
        channel: 'stable',
        architectures: ['x86_64'],
      },
    ]);
  });

  it.each([
    ['base=ubuntu-24.04,web=web@pipeline:web', 'pipeline web names itself as its parent'],
    [
      'base=ubuntu-24.04,web=web@pipeline:nope',
      'pipeline web names parent nope, which is not one of the configured pipelines (base, web)',
    ],
    ['base=base@pipeline:web,web=web@pipeline:base', 'pipelines base → web → base form a cycle of parents'],
  ])('rejects PIPELINES %s whose parents cannot work', async (value, expected) => {
    vi.stubEnv('PIPELINES', value);
    const config = await load();
    expect(thrown(() => config.pipelines)).toMatchObject({
      name: 'MissingConfiguration',
      message: `environment variable PIPELINES: ${expected}`,
    });
  });

  it.each([
    ['web', 'expected pipeline=[imageDefinition@]{baseImage|pipeline:<parent>[/<parentChannel>]}[:channel]'],
    ['web=centos-7', 'baseImage is required and must be one of: ubuntu-24.04'],
    ['Web=al2023', 'pipeline must be 1-32 characters'],
    ['web=al2023:Bad', 'channel must be 1-32 characters'],
    ['web=al2023:candidate', 'channel must not be "candidate"'],
    ['web=nginx@al2023', 'imageDefinition must be one of: base, web (got "nginx")'],
    ['api=al2023', 'imageDefinition must be one of: base, web (got "api")'],
    ['web=base@web@al2023', 'expected pipeline=[imageDefinition@]{baseImage|pipeline:<parent>'],
    ['web=web@pipeline:Base', 'parent.pipeline: pipeline must be 1-32 characters'],
    ['web=web@pipeline:base/previous-stable', 'parent.channel: channel must not be'],
    ['web=web@pipeline:base/stable/x', 'expected pipeline=[imageDefinition@]{baseImage|pipeline:<parent>'],
    ['web=nginx@pipeline:base', 'imageDefinition must be one of: base, web (got "nginx")'],
  ])('rejects the PIPELINES entry %s and says what is expected', async (value, expected) => {
    vi.stubEnv('PIPELINES', `base=ubuntu-24.04,${value}`);
    const config = await load();
    const error = thrown(() => config.pipelines);
    expect(error).toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining(`PIPELINES has an invalid entry "${value}"`),
    });
    expect(error?.message).toContain(expected);
  });

  it('throws for a malformed PIPELINES on every read, never returning the raw value', async () => {
    // Prepare
    vi.stubEnv('PIPELINES', 'web=ubuntu-24.04,api=al2023');
    const config = await load();

    // Act
    const first = thrown(() => config.pipelines);
    const second = thrown(() => config.pipelines);

    // Assess
    expect(first).toMatchObject({ name: 'MissingConfiguration' });
    expect(second).toMatchObject({ name: 'MissingConfiguration', message: first?.message });
  });

  it('caches a parsed PIPELINES (one cold start)', async () => {
    vi.stubEnv('PIPELINES', 'web=ubuntu-24.04');
    const config = await load();
    const first = config.pipelines;
    vi.stubEnv('PIPELINES', 'base=al2023');
    expect(config.pipelines).toBe(first);
  });

  it('ROLLOUT: none by default, the parsed object, MissingConfiguration naming it when malformed', async () => {
    vi.stubEnv('ROLLOUT', '');
    expect((await load()).rolloutSettings).toEqual({});
    vi.stubEnv('ROLLOUT', '{"web/stable":{"minHealthyPercentage":90}}');
    vi.resetModules();
    expect((await load()).rolloutSettings).toEqual({ 'web/stable': { minHealthyPercentage: 90 } });
    vi.stubEnv('ROLLOUT', '{"web":{}}');
    vi.resetModules();
    const config = await load();
    expect(thrown(() => config.rolloutSettings)).toMatchObject({
      name: 'MissingConfiguration',
      message:
        'environment variable ROLLOUT key "web" is not "<pipeline>/<channel>" (lowercase names such as "web/stable", one slash)',
    });
  });

  it('splits security groups', async () => {
    vi.stubEnv('TEST_SECURITY_GROUP_IDS', ' sg-1 ,sg-2,, ');
    const config = await load();
    expect(config.testSecurityGroupIds).toEqual(['sg-1', 'sg-2']);
  });
});
