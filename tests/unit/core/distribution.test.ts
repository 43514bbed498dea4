/** `core/distribution.ts`: settings validation, fail policy, client token, IAM scope (tables). */
import { describe, expect, it } from 'vitest';
import {
  copyClientToken,
  distributionScope,
  parseDistributionSettings,
  type RegionOutcome,
  resolveDistribution,
  settleDistribution,
} from '#commons/core/distribution.js';

const HOME = 'us-east-1';
const key = (region: string, id = '11111111-2222-3333-4444-555555555555') =>
  `arn:aws:kms:${region}:111122223333:key/${id}`;
const ORG = 'arn:aws:organizations::111122223333:organization/o-abcdefghij';
const OU = 'arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdefghij';
const SHARING = {
  regions: ['eu-west-1', 'ap-southeast-2'],
  kmsKeys: { [HOME]: key(HOME), 'eu-west-1': key('eu-west-1'), 'ap-southeast-2': key('ap-southeast-2') },
  shareWith: { accounts: ['444455556666'], organizations: [ORG], organizationalUnits: [OU] },
};

describe('resolveDistribution', () => {
  it('no entry: the stack region alone, shared with nobody, promote-none, the default EBS key', () => {
    expect(resolveDistribution(undefined, HOME)).toEqual({
      regions: [{ region: HOME, home: true, kmsKeyId: null }],
      shareWith: { accounts: [], organizations: [], organizationalUnits: [] },
      onRegionFailure: 'promote-none',
      bakeKmsKeyId: '',
    });
  });

  it('three regions shared with an account and an OU: the stack region first, its key is the bake key', () => {
    const resolved = resolveDistribution({ ...SHARING, onRegionFailure: 'promote-succeeded' }, HOME);

    expect(resolved.regions).toEqual([
      { region: HOME, home: true, kmsKeyId: key(HOME) },
      { region: 'eu-west-1', home: false, kmsKeyId: key('eu-west-1') },
      { region: 'ap-southeast-2', home: false, kmsKeyId: key('ap-southeast-2') },
    ]);
    expect(resolved.shareWith).toEqual({
      accounts: ['444455556666'],
      organizations: [ORG],
      organizationalUnits: [OU],
    });
    expect(resolved.onRegionFailure).toBe('promote-succeeded');
    expect(resolved.bakeKmsKeyId).toBe(key(HOME));
  });

  it('copies without sharing may use the default EBS key (no kmsKeys)', () => {
    expect(resolveDistribution({ regions: ['eu-west-1'] }, HOME).regions).toEqual([
      { region: HOME, home: true, kmsKeyId: null },
      { region: 'eu-west-1', home: false, kmsKeyId: null },
    ]);
  });

  it.each([
    ['a region name that is none', { regions: ['eu-west'] }, '"eu-west" is not a region name'],
    ['an upper-case region', { regions: ['EU-WEST-1'] }, 'is not a region name'],
    ['the stack region among regions', { regions: [HOME] }, "us-east-1 is the stack's own region"],
    ['a region twice', { regions: ['eu-west-1', 'eu-west-1'] }, 'eu-west-1 listed twice'],
    [
      'an 11-digit account',
      { shareWith: { accounts: ['12345678901'] } },
      'not an AWS account id (12 digits)',
    ],
    ['an account with letters', { shareWith: { accounts: ['12345678901a'] } }, 'not an AWS account id'],
    [
      'an organization id',
      { shareWith: { organizations: ['o-abcdefghij'] } },
      'is an organization id: give the ARN',
    ],
    [
      'a malformed organization ARN',
      { shareWith: { organizations: ['arn:aws:organizations::1:organization/x'] } },
      'is not an organization ARN',
    ],
    [
      'an OU id',
      { shareWith: { organizationalUnits: ['ou-ab12-cdefghij'] } },
      'is an organizational unit id: give the ARN',
    ],
    [
      'an unknown policy',
      { onRegionFailure: 'promote-some' },
      'onRegionFailure must be one of: promote-none, promote-succeeded',
    ],
    ['an unknown key', { region: 'eu-west-1' }, 'Unrecognized key'],
    [
      'a key for a region not distributed to',
      { kmsKeys: { 'eu-west-1': key('eu-west-1') } },
      'kmsKeys.eu-west-1: eu-west-1 is not a region of this distribution',
    ],
    [
      'a key id instead of an ARN',
      { kmsKeys: { [HOME]: '11111111-2222-3333-4444-555555555555' } },
      'is not a KMS key ARN',
    ],
    [
      'an alias ARN',
      { kmsKeys: { [HOME]: `arn:aws:kms:${HOME}:111122223333:alias/images` } },
      'is not a KMS key ARN',
    ],
    [
      'a key of another region',
      { kmsKeys: { [HOME]: key('eu-west-1') } },
      'is a key of eu-west-1: a copy in us-east-1 needs a key of us-east-1',
    ],
  ])('refuses %s, saying why', (_name, entry, message) => {
    expect(() => resolveDistribution(entry, HOME)).toThrow(message);
  });

  it.each([['alias/aws/ebs'], [`arn:aws:kms:${HOME}:111122223333:alias/aws/ebs`]])(
    'refuses the AWS managed key %s: other accounts can never use what it encrypts',
    (managed) => {
      expect(() =>
        resolveDistribution({ ...SHARING, kmsKeys: { ...SHARING.kmsKeys, [HOME]: managed } }, HOME),
      ).toThrow(/names the AWS managed key aws\/ebs: its key policy cannot be changed/);
    },
  );

  it('refuses sharing when a region has no key, naming the region and why', () => {
    const { 'ap-southeast-2': _dropped, ...keys } = SHARING.kmsKeys;

    expect(() => resolveDistribution({ ...SHARING, kmsKeys: keys }, HOME)).toThrow(
      'region ap-southeast-2 has no KMS key: sharing encrypted snapshots with other accounts needs a customer managed key per region',
    );
  });

  it('lists every problem at once, through the caller’s error', () => {
    const error = (() => {
      try {
        resolveDistribution(
          { regions: [HOME], shareWith: { accounts: ['1'] } },
          HOME,
          (p) => new RangeError(p),
        );
      } catch (thrown) {
        return thrown as Error;
      }
    })();

    expect(error).toBeInstanceOf(RangeError);
    expect(error?.message).toContain('shareWith.accounts.0');
  });

  it('accepts multi-Region keys and GovCloud regions', () => {
    const mrk = `arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-${'0'.repeat(32)}`;

    expect(resolveDistribution({ kmsKeys: { 'us-gov-west-1': mrk } }, 'us-gov-west-1').bakeKmsKeyId).toBe(
      mrk,
    );
  });
});

describe('settleDistribution', () => {
  const regions = [
    { region: HOME, home: true, kmsKeyId: null },
    { region: 'eu-west-1', home: false, kmsKeyId: null },
    { region: 'ap-southeast-2', home: false, kmsKeyId: null },
  ];
  const ok = (region: string, imageId: string): RegionOutcome => ({
    region,
    outcome: 'distributed',
    imageId,
    snapshotIds: [],
  });
  const failed = (region: string): RegionOutcome => ({
    region,
    outcome: 'failed',
    error: { Error: 'RegionCopyFailed', Cause: 'image state failed' },
  });
  const all = [ok(HOME, 'ami-1'), ok('eu-west-1', 'ami-2'), ok('ap-southeast-2', 'ami-3')];

  it.each(['promote-none', 'promote-succeeded'] as const)(
    '%s, every region distributed: all promoted, home first',
    (policy) => {
      expect(settleDistribution({ regions, onRegionFailure: policy }, [...all].reverse())).toEqual({
        outcome: 'complete',
        promote: [
          { region: HOME, imageId: 'ami-1' },
          { region: 'eu-west-1', imageId: 'ami-2' },
          { region: 'ap-southeast-2', imageId: 'ami-3' },
        ],
        failed: [],
      });
    },
  );

  it('promote-none, one region failed: nothing promoted, the region and its error named', () => {
    expect(
      settleDistribution({ regions, onRegionFailure: 'promote-none' }, [
        all[0],
        failed('eu-west-1'),
        all[2],
      ] as RegionOutcome[]),
    ).toEqual({
      refused:
        'onRegionFailure is promote-none, so no region is promoted: eu-west-1 (RegionCopyFailed: image state failed)',
    });
  });

  it('promote-succeeded, one region failed: the others promoted, the failed one reported', () => {
    expect(
      settleDistribution({ regions, onRegionFailure: 'promote-succeeded' }, [
        all[0],
        failed('eu-west-1'),
        all[2],
      ] as RegionOutcome[]),
    ).toEqual({
      outcome: 'partial',
      promote: [
        { region: HOME, imageId: 'ami-1' },
        { region: 'ap-southeast-2', imageId: 'ami-3' },
      ],
      failed: [{ region: 'eu-west-1', error: 'RegionCopyFailed: image state failed' }],
    });
  });

  it('promote-succeeded, the stack region failed: nothing promoted', () => {
    expect(
      settleDistribution({ regions, onRegionFailure: 'promote-succeeded' }, [
        failed(HOME),
        all[1],
        all[2],
      ] as RegionOutcome[]),
    ).toEqual({ refused: expect.stringContaining("the stack's own region failed") });
  });

  it('a region that reported nothing counts as failed', () => {
    expect(
      settleDistribution({ regions, onRegionFailure: 'promote-succeeded' }, [
        all[0],
        all[1],
      ] as RegionOutcome[]),
    ).toMatchObject({
      outcome: 'partial',
      failed: [{ region: 'ap-southeast-2', error: 'no outcome reported' }],
    });
  });
});

describe('copyClientToken', () => {
  it('is the build id and region, the same on every retry, at most 64 characters', () => {
    expect(copyClientToken('web-0123456789ab', 'eu-west-1')).toBe('web-0123456789ab.eu-west-1');
    expect(copyClientToken('web-0123456789ab', 'eu-west-1')).toBe(
      copyClientToken('web-0123456789ab', 'eu-west-1'),
    );
    expect(copyClientToken('x'.repeat(80), 'eu-west-1')).toHaveLength(64);
    expect(copyClientToken('x'.repeat(80), 'eu-west-1')).not.toBe(
      copyClientToken('x'.repeat(80), 'eu-west-2'),
    );
  });
});

describe('parseDistributionSettings and distributionScope', () => {
  it("'' is no distribution; a JSON object keyed by pipeline is read as written", () => {
    expect(parseDistributionSettings('')).toEqual({});
    expect(parseDistributionSettings(JSON.stringify({ web: SHARING }))).toEqual({ web: SHARING });
  });

  it.each([
    ['{', 'not JSON'],
    ['[]', 'must be a JSON object keyed by pipeline name'],
    ['{"web": 3}', 'the entry of pipeline web must be an object'],
  ])('refuses %s', (value, message) => {
    expect(() => parseDistributionSettings(value)).toThrow(message);
  });

  it('the IAM scope: every other region and every key of every pipeline, sorted, once', () => {
    expect(distributionScope({ web: SHARING, base: { regions: ['eu-west-1', 'us-west-2'] } })).toEqual({
      regions: ['ap-southeast-2', 'eu-west-1', 'us-west-2'],
      kmsKeyArns: [key('ap-southeast-2'), key('eu-west-1'), key(HOME)],
    });
  });
});
