/**
 * core/rollout.ts tables: the stage parameter's keys and entries (every refusal with its reason),
 * the preferences sent to StartInstanceRefresh, the regions covered, the outcome and the summary.
 */
import { describe, expect, it } from 'vitest';
import {
  parseRolloutSettings,
  promotedRegions,
  ROLLOUT_TAG_KEY,
  resolveRollout,
  rolloutOutcome,
  rolloutSummary,
  rolloutTagValue,
} from '#commons/core/rollout.js';
import { TAG } from '#commons/core/tags.js';

describe('parseRolloutSettings', () => {
  it.each([
    ['', {}],
    ['  ', {}],
    ['{}', {}],
    ['{"web/stable":{}}', { 'web/stable': {} }],
    [
      '{"web/stable":{"minHealthyPercentage":90},"base/canary":{}}',
      { 'web/stable': { minHealthyPercentage: 90 }, 'base/canary': {} },
    ],
  ])('accepts %j', (value, expected) => {
    expect(parseRolloutSettings(value)).toEqual(expected);
  });

  it.each([
    ['{', /^not JSON/],
    ['[]', /JSON object keyed by "<pipeline>\/<channel>"/],
    ['null', /JSON object/],
    ['{"web":{}}', /key "web" is not "<pipeline>\/<channel>"/],
    ['{"web/stable/x":{}}', /key "web\/stable\/x"/],
    ['{"Web/Stable":{}}', /key "Web\/Stable"/],
    ['{"web/stable":true}', /the entry of web\/stable must be an object/],
    ['{"web/stable":[]}', /the entry of web\/stable must be an object/],
  ])('refuses %j', (value, message) => {
    expect(() => parseRolloutSettings(value)).toThrow(message);
  });
});

describe('resolveRollout', () => {
  it('is undefined for a channel without an entry (no rollout)', () => {
    expect(resolveRollout({ 'web/canary': {} }, 'web', 'stable')).toBeUndefined();
    expect(resolveRollout({}, 'web', 'stable')).toBeUndefined();
  });

  it("an arm64 build refreshes the groups of the channel's arm64 track (<pipeline>/arm64/<channel>), with the channel's setting", () => {
    expect(
      resolveRollout({ 'web/stable': { minHealthyPercentage: 50 } }, 'web', 'stable', undefined, 'arm64'),
    ).toEqual({
      tag: { key: 'factory:channel', value: 'web/arm64/stable' },
      preferences: { MinHealthyPercentage: 50 },
    });
  });

  it('tags the groups factory:channel=<pipeline>/<channel> (the one channel tag key)', () => {
    expect(ROLLOUT_TAG_KEY).toBe(TAG.channel);
    expect(resolveRollout({ 'web/stable': {} }, 'web', 'stable')).toEqual({
      tag: { key: 'factory:channel', value: 'web/stable' },
      preferences: {},
    });
    expect(rolloutTagValue('base', 'canary')).toBe('base/canary');
    expect(rolloutTagValue('base', 'canary', 'x86_64')).toBe('base/canary');
    expect(rolloutTagValue('base', 'canary', 'arm64')).toBe('base/arm64/canary');
  });

  it('maps the entry to RefreshPreferences names and never sets SkipMatching', () => {
    const rollout = resolveRollout(
      { 'web/stable': { minHealthyPercentage: 50, maxHealthyPercentage: 150, instanceWarmupSeconds: 300 } },
      'web',
      'stable',
    );

    expect(rollout?.preferences).toEqual({
      MinHealthyPercentage: 50,
      MaxHealthyPercentage: 150,
      InstanceWarmup: 300,
    });
    expect(rollout?.preferences).not.toHaveProperty('SkipMatching');
  });

  it.each([
    [{ minHealthyPercentage: 0 }, { MinHealthyPercentage: 0 }],
    [{ minHealthyPercentage: 100 }, { MinHealthyPercentage: 100 }],
    [
      { minHealthyPercentage: 100, maxHealthyPercentage: 200 },
      { MinHealthyPercentage: 100, MaxHealthyPercentage: 200 },
    ],
    [
      { minHealthyPercentage: 0, maxHealthyPercentage: 100 },
      { MinHealthyPercentage: 0, MaxHealthyPercentage: 100 },
    ],
    [{ instanceWarmupSeconds: 0 }, { InstanceWarmup: 0 }],
  ])('accepts the bounds %j', (entry, preferences) => {
    expect(resolveRollout({ 'web/stable': entry }, 'web', 'stable')?.preferences).toEqual(preferences);
  });

  it.each([
    [
      { minHealthyPercentage: -1 },
      'minHealthyPercentage: minHealthyPercentage must be a whole number from 0 to 100',
    ],
    [{ minHealthyPercentage: 101 }, 'minHealthyPercentage must be a whole number from 0 to 100'],
    [{ minHealthyPercentage: 90.5 }, 'minHealthyPercentage must be a whole number from 0 to 100'],
    [{ minHealthyPercentage: '90' }, 'minHealthyPercentage must be a whole number from 0 to 100'],
    [
      { minHealthyPercentage: 90, maxHealthyPercentage: 99 },
      'maxHealthyPercentage must be a whole number from 100 to 200',
    ],
    [
      { minHealthyPercentage: 90, maxHealthyPercentage: 201 },
      'maxHealthyPercentage must be a whole number from 100 to 200',
    ],
    [{ maxHealthyPercentage: 150 }, 'maxHealthyPercentage needs minHealthyPercentage'],
    [{ minHealthyPercentage: 40, maxHealthyPercentage: 150 }, 'more than 100 apart'],
    [{ instanceWarmupSeconds: -5 }, 'instanceWarmupSeconds must be a whole number of seconds, 0 or more'],
    [{ instanceWarmupSeconds: 172801 }, 'instanceWarmupSeconds must be at most 172800'],
    [{ skipMatching: true }, 'skipMatching'],
    [{ MinHealthyPercentage: 90 }, 'MinHealthyPercentage'],
  ])('refuses %j naming the problem', (entry, message) => {
    expect(() =>
      resolveRollout(
        { 'web/stable': entry },
        'web',
        'stable',
        (problems) => new Error(`web/stable: ${problems}`),
      ),
    ).toThrow(message);
  });

  it('lists every problem of the entry in one message', () => {
    expect(() =>
      resolveRollout(
        { 'web/stable': { minHealthyPercentage: 101, instanceWarmupSeconds: -1 } },
        'web',
        'stable',
      ),
    ).toThrow(/minHealthyPercentage.*; instanceWarmupSeconds/);
  });

  it('checks only the build channel entry: a bad entry of another channel does not stop this one', () => {
    expect(
      resolveRollout({ 'web/stable': {}, 'web/canary': { minHealthyPercentage: 500 } }, 'web', 'stable'),
    ).toBeDefined();
  });
});

describe('promotedRegions', () => {
  it('is the regions whose channel now names the image, the superseded ones left out', () => {
    expect(
      promotedRegions(
        {
          outcome: 'promoted',
          regions: [
            { region: 'us-east-1', outcome: 'promoted' },
            { region: 'eu-west-1', outcome: 'superseded' },
            { region: 'ap-southeast-2', outcome: 'promoted' },
          ],
        },
        'us-east-1',
      ),
    ).toEqual(['us-east-1', 'ap-southeast-2']);
  });

  it('is the stack region for a promotion of one region, and nothing for a superseded one', () => {
    expect(promotedRegions({ outcome: 'promoted' }, 'us-east-1')).toEqual(['us-east-1']);
    expect(promotedRegions({ outcome: 'promoted', regions: [] }, 'local')).toEqual(['local']);
    expect(promotedRegions({ outcome: 'superseded' }, 'us-east-1')).toEqual([]);
  });
});

describe('rolloutOutcome and rolloutSummary', () => {
  const started = { region: 'us-east-1', group: 'a', outcome: 'started' as const, instanceRefreshId: 'r-1' };
  const busy = { region: 'us-east-1', group: 'b', outcome: 'in-progress' as const, detail: 'already' };
  const failed = {
    region: 'eu-west-1',
    group: 'c',
    outcome: 'failed' as const,
    error: 'ResourceContention: x',
  };

  it.each([
    [[], [], 'none'],
    [[started], [], 'started'],
    [[started, busy], [], 'partial'],
    [[started, failed], [], 'partial'],
    [[], [{ region: 'eu-west-1', error: 'Throttling' }], 'partial'],
  ] as const)('groups %j, region errors %j → %s', (groups, errors, outcome) => {
    expect(rolloutOutcome(groups, errors)).toBe(outcome);
  });

  it('summarises each kind of report in one line', () => {
    const tag = { key: 'factory:channel', value: 'web/stable' };
    expect(rolloutSummary(undefined)).toBe('not run');
    expect(
      rolloutSummary({
        outcome: 'none',
        tag,
        regions: ['us-east-1', 'eu-west-1'],
        groups: [],
        regionErrors: [],
      }),
    ).toBe('no Auto Scaling group tagged factory:channel=web/stable in us-east-1, eu-west-1');
    expect(
      rolloutSummary({
        outcome: 'partial',
        tag,
        regions: ['us-east-1', 'eu-west-1'],
        groups: [started, busy, failed],
        regionErrors: [{ region: 'ap-southeast-2', error: 'Throttling: slow down' }],
      }),
    ).toBe(
      '1 refresh(es) started; already refreshing: us-east-1/b; failed: eu-west-1/c (ResourceContention: x); ap-southeast-2 not searched (Throttling: slow down)',
    );
    expect(
      rolloutSummary({
        outcome: 'partial',
        groups: [],
        regionErrors: [],
        error: { Error: 'AccessDenied', Cause: 'no' },
      }),
    ).toBe('FAILED (AccessDenied: no); the image is promoted, refresh the groups by hand');
  });
});
