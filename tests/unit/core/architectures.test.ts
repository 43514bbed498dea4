import { describe, expect, it } from 'vitest';
import {
  architecturesOf,
  imageArchitecture,
  instanceTypeArchitecture,
  instanceTypeProblem,
  isOfArchitecture,
  parseArchitectures,
  trackOf,
} from '#commons/core/architectures.js';
import { planRetention, type RetentionImage } from '#commons/core/retention.js';

describe('trackOf', () => {
  it.each([
    ['web', 'x86_64', 'web'],
    ['web', 'arm64', 'web/arm64'],
    ['web', undefined, 'web'],
  ] as const)('%s %s → %s (x86_64 keeps the name it had before architectures)', (pipeline, arch, track) => {
    expect(trackOf(pipeline, arch)).toBe(track);
  });
});

describe('instanceTypeArchitecture: by AWS naming convention', () => {
  it.each([
    ['t3.small', 'x86_64'],
    ['t3a.micro', 'x86_64'],
    ['c7i.large', 'x86_64'],
    ['c7i-flex.large', 'x86_64'],
    ['m5zn.xlarge', 'x86_64'],
    ['g4dn.xlarge', 'x86_64'],
    ['g4ad.xlarge', 'x86_64'],
    ['inf2.xlarge', 'x86_64'],
    ['u-6tb1.metal', 'x86_64'],
    ['t4g.small', 'arm64'],
    ['c7g.large', 'arm64'],
    ['c7gn.large', 'arm64'],
    ['m6gd.large', 'arm64'],
    ['r8g.large', 'arm64'],
    ['x2gd.large', 'arm64'],
    ['im4gn.large', 'arm64'],
    ['is4gen.large', 'arm64'],
    ['g5g.xlarge', 'arm64'],
    ['hpc7g.4xlarge', 'arm64'],
    ['a1.large', 'arm64'],
    ['mac2.metal', undefined],
    ['mac2-m2.metal', undefined],
    ['t3', undefined],
    ['T3.small', undefined],
    ['', undefined],
  ])('%s → %s', (type, arch) => {
    expect(instanceTypeArchitecture(type)).toBe(arch);
  });

  it('names the mismatch and the rule; accepts a match', () => {
    expect(instanceTypeProblem('t4g.small', 'arm64', 'test')).toBeUndefined();
    expect(instanceTypeProblem('c7g.large', 'x86_64', 'builder')).toBe(
      'builder instance type c7g.large runs arm64, but the build is x86_64 (Graviton families such as t4g, c7g run arm64; the others x86_64)',
    );
    expect(instanceTypeProblem('mac2.metal', 'x86_64', 'test')).toMatch(
      /not an EC2 instance type the factory builds on/,
    );
  });
});

describe('parseArchitectures', () => {
  it.each([
    ['', {}],
    ['web=x86_64+arm64', { web: ['x86_64', 'arm64'] }],
    // Kept in ARCHITECTURES order, whatever the order written.
    [' web = arm64+x86_64 , edge=arm64 ', { web: ['x86_64', 'arm64'], edge: ['arm64'] }],
    ['web=x86_64,', { web: ['x86_64'] }],
  ])('%j → %j', (value, settings) => {
    expect(parseArchitectures(value.replace(/ = /g, '='))).toEqual(settings);
  });

  it.each([
    ['web', /invalid entry "web": expected pipeline=<architecture>/],
    ['web=amd64', /"amd64" is not an architecture \(x86_64, arm64\)/],
    ['web=', /"" is not an architecture/],
    ['web=arm64+arm64', /an architecture is named twice/],
    ['web=arm64,web=x86_64', /names pipeline web twice/],
    ['Web=arm64', /invalid entry "Web=arm64"/],
  ])('%j is refused (%s)', (value, message) => {
    expect(() => parseArchitectures(value)).toThrow(message);
  });

  it('a pipeline without an entry builds x86_64 only', () => {
    const settings = parseArchitectures('edge=arm64');
    expect(architecturesOf(settings, 'web')).toEqual(['x86_64']);
    expect(architecturesOf(settings, 'edge')).toEqual(['arm64']);
  });
});

describe('imageArchitecture', () => {
  it.each([
    [{ architecture: 'arm64', tags: { 'factory:architecture': 'x86_64' } }, 'arm64'],
    [{ tags: { 'factory:architecture': 'arm64' } }, 'arm64'],
    [{ tags: {} }, 'x86_64'],
    [{ architecture: 'i386', tags: {} }, 'i386'],
  ])('%j → %s (EC2 first, then the tag, then x86_64)', (image, arch) => {
    expect(imageArchitecture(image)).toBe(arch);
    expect(isOfArchitecture(image, 'x86_64')).toBe(arch === 'x86_64');
    expect(isOfArchitecture(image, 'arm64')).toBe(arch === 'arm64');
  });
});

describe('retention is scoped to the build architecture', () => {
  const NOW = new Date('2026-06-30T12:00:00.000Z');
  const old = (id: string, arch: string | undefined, days: number): RetentionImage => ({
    imageId: id,
    createdAt: new Date(NOW.getTime() - days * 86_400_000).toISOString(),
    tags: { 'factory:pipeline': 'web' },
    ...(arch ? { architecture: arch } : {}),
  });
  // Expired images of both architectures, and a legacy image (no architecture recorded: x86_64).
  const images = [
    old('ami-x1', 'x86_64', 40),
    old('ami-x2', 'x86_64', 50),
    old('ami-legacy', undefined, 60),
    old('ami-a1', 'arm64', 40),
    old('ami-a2', 'arm64', 50),
  ];
  it.each([
    ['x86_64', ['ami-legacy', 'ami-x1', 'ami-x2'], ['ami-x1']],
    ['arm64', ['ami-a1', 'ami-a2'], ['ami-a1']],
    [undefined, ['ami-legacy', 'ami-x1', 'ami-x2'], ['ami-x1']],
  ] as const)('a %s build plans only %j and keeps the newest of them %j', (architecture, inPlan, kept) => {
    const plan = planRetention({ images, now: NOW, pipeline: 'web', keepLatest: 1, architecture });
    expect(plan.map((decision) => decision.imageId).sort()).toEqual([...inPlan]);
    expect(plan.filter((decision) => decision.action === 'keep').map((decision) => decision.imageId)).toEqual(
      [...kept],
    );
    // Never an image of the other architecture, whatever its age.
    expect(
      plan.every(
        (decision) =>
          images.find((i) => i.imageId === decision.imageId)?.architecture !==
          (architecture === 'arm64' ? 'x86_64' : 'arm64'),
      ),
    ).toBe(true);
  });
});
