/**
 * The local arm64 option (`local/architectures.ts`): off unless FACTORY_LOCAL_ARM64=1, refused with
 * a message naming the opt-in, and which architectures a run builds and declares.
 */
import { describe, expect, it } from 'vitest';
import {
  assertLocalArchitecture,
  chooseArchitectures,
  LOCAL_ARM64_OPT_IN,
  LOCAL_WAITS,
  localArchitectures,
} from '#local/architectures.js';
import { localPollBounds } from '#local/poll-bounds.js';

describe('localArchitectures', () => {
  it.each([
    [{}, ['x86_64']],
    [{ [LOCAL_ARM64_OPT_IN]: '' }, ['x86_64']],
    [{ [LOCAL_ARM64_OPT_IN]: '0' }, ['x86_64']],
    [{ [LOCAL_ARM64_OPT_IN]: 'true' }, ['x86_64']],
    [{ [LOCAL_ARM64_OPT_IN]: '1' }, ['x86_64', 'arm64']],
  ])('with %j builds %j', (env, expected) => {
    expect(localArchitectures(env)).toEqual(expected);
  });
});

describe('assertLocalArchitecture', () => {
  it('accepts x86_64 by default and arm64 once enabled', () => {
    expect(() => assertLocalArchitecture('x86_64', ['x86_64'])).not.toThrow();
    expect(() => assertLocalArchitecture('arm64', ['x86_64', 'arm64'])).not.toThrow();
  });

  it('refuses arm64 without the opt-in with InvalidInput naming FACTORY_LOCAL_ARM64=1', () => {
    expect(() => assertLocalArchitecture('arm64', ['x86_64'])).toThrow(
      expect.objectContaining({
        name: 'InvalidInput',
        message: expect.stringMatching(
          /^the local backend bakes arm64 only when opted in: set FACTORY_LOCAL_ARM64=1 /,
        ),
      }),
    );
  });
});

describe('chooseArchitectures', () => {
  it.each([
    ['nothing: x86_64, declared by default', undefined, undefined, ['x86_64'], {}],
    [
      '--architecture arm64 alone: arm64, declared by the flag',
      'arm64',
      undefined,
      ['arm64'],
      { web: ['arm64'] },
    ],
    [
      'ARCHITECTURES with both: both, x86_64 first',
      undefined,
      'web=arm64+x86_64',
      ['x86_64', 'arm64'],
      { web: ['x86_64', 'arm64'] },
    ],
    [
      'ARCHITECTURES naming another pipeline: x86_64',
      undefined,
      'edge=arm64',
      ['x86_64'],
      { edge: ['arm64'] },
    ],
    [
      '--architecture with ARCHITECTURES: the flag, declared by the setting',
      'arm64',
      'web=x86_64+arm64',
      ['arm64'],
      { web: ['x86_64', 'arm64'] },
    ],
    // PrepareBuild then refuses it, as on AWS: the setting does not declare it.
    [
      '--architecture undeclared by ARCHITECTURES: kept',
      'arm64',
      'web=x86_64',
      ['arm64'],
      { web: ['x86_64'] },
    ],
    ['an empty ARCHITECTURES counts as unset', 'arm64', '', ['arm64'], { web: ['arm64'] }],
  ])('%s', (_what, flag, setting, architectures, settings) => {
    expect(chooseArchitectures('web', flag, setting)).toEqual({ architectures, settings });
  });

  it('refuses an unknown --architecture and a malformed ARCHITECTURES, naming them', () => {
    expect(() => chooseArchitectures('web', 'aarch64', undefined)).toThrow(
      '--architecture must be one of x86_64, arm64, got aarch64',
    );
    expect(() => chooseArchitectures('web', undefined, 'web=aarch64')).toThrow(
      /^environment variable ARCHITECTURES /,
    );
  });
});

describe('LOCAL_WAITS', () => {
  it('keeps every online and probe check under the ASL Task timeout of 60 s', () => {
    for (const waits of Object.values(LOCAL_WAITS)) {
      expect(waits.onlinePollSeconds).toBeLessThan(60);
      expect(waits.pollSeconds).toBeLessThan(60);
    }
  });

  it('gives an arm64 boot at least half an hour (measured: about 8 minutes to a login prompt under load)', () => {
    const bounds = localPollBounds();
    expect(bounds.CheckInstanceOnline * LOCAL_WAITS.arm64.onlinePollSeconds).toBeGreaterThanOrEqual(30 * 60);
    expect(bounds.CheckInstanceOnline * LOCAL_WAITS.x86_64.onlinePollSeconds).toBeLessThan(
      bounds.CheckInstanceOnline * LOCAL_WAITS.arm64.onlinePollSeconds,
    );
  });
});
