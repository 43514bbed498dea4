import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  compareDebianVersions,
  diffPackages,
  diffSummary,
  packageOfPurl,
  packageSet,
  parseSbom,
  SbomInvalid,
} from '#commons/core/sbom.js';

const component = (name: string, version: string, arch = 'amd64') => ({
  type: 'library',
  name,
  version,
  purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=debian-12`,
  'bom-ref': `pkg:deb/debian/${name}@${version}?arch=${arch}`,
});
const sbom = (...components: object[]) =>
  parseSbom(
    JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components }),
    'test.cdx.json',
  );

describe('compareDebianVersions (deb-version(7) sorting algorithm)', () => {
  // [a, b, sign of compare(a, b)], as `dpkg --compare-versions a lt|eq|gt b` answers.
  it.each([
    ['1.0', '1.0', 0],
    ['0:1.0', '1.0', 0],
    ['1.001', '1.1', 0],
    ['1.0', '1.0-0', 0],
    ['1.0', '1.0-1', -1],
    ['1.0~rc1', '1.0', -1],
    ['1.0~~', '1.0~', -1],
    ['1.0~~a', '1.0~', -1],
    ['1.0~', '1.0', -1],
    ['1.0', '1.0a', -1],
    ['1.0a', '1.0+', -1],
    ['1.0+', '1.0.1', -1],
    ['1.2.9', '1.2.10', -1],
    ['1:0.9', '2.0', 1],
    ['2:1.0', '10:0.1', -1],
    ['2.36-9', '2.36-9+deb12u4', -1],
    ['7.88.1-10+deb12u5', '7.88.1-10+deb12u8', -1],
    ['3.0.9-1+deb12u1', '3.0.11-1~deb12u2', -1],
    ['1:9.2p1-2+deb12u2', '1:9.2p1-2+deb12u3', -1],
    ['252.22-1~deb12u1', '252.22-1', -1],
    ['1.0-1ubuntu1', '1.0-1', 1],
  ])('%s vs %s → %i', (a, b, sign) => {
    expect(Math.sign(compareDebianVersions(a, b))).toBe(sign);
    expect(Math.sign(compareDebianVersions(b, a))).toBe(sign === 0 ? 0 : -sign);
  });
});

describe('packageOfPurl', () => {
  it.each([
    [
      'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12',
      {
        key: 'deb/debian/libc6?arch=amd64',
        name: 'libc6',
        type: 'deb',
        arch: 'amd64',
        version: '2.36-9+deb12u4',
      },
    ],
    [
      'pkg:deb/debian/openssh-server@1%3A9.2p1-2?arch=arm64',
      {
        key: 'deb/debian/openssh-server?arch=arm64',
        name: 'openssh-server',
        type: 'deb',
        arch: 'arm64',
        version: '1:9.2p1-2',
      },
    ],
    [
      'pkg:npm/%40scope/left-pad@1.3.0',
      { key: 'npm/@scope/left-pad', name: 'left-pad', type: 'npm', arch: undefined, version: '1.3.0' },
    ],
    [
      'pkg:pypi/requests@2.31.0#sub',
      { key: 'pypi/requests', name: 'requests', type: 'pypi', arch: undefined, version: '2.31.0' },
    ],
  ])('%s', (purl, expected) => {
    expect(packageOfPurl(purl)).toEqual(expected);
  });

  it.each(['', 'cpe:2.3:a:x', 'pkg:deb', 'pkg:deb/'])('%j is no package', (purl) => {
    expect(packageOfPurl(purl)).toBeUndefined();
  });
});

describe('parseSbom', () => {
  it.each([
    ['not JSON', '{', /test is not a CycloneDX JSON SBOM: not JSON/],
    ['SPDX', JSON.stringify({ spdxVersion: 'SPDX-2.3' }), /bomFormat/],
    [
      'a component without a name',
      JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ type: 'library' }] }),
      /components\.0\.name/,
    ],
    ['no specVersion', JSON.stringify({ bomFormat: 'CycloneDX' }), /specVersion/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseSbom(text, 'test')).toThrow(SbomInvalid);
    expect(() => parseSbom(text, 'test')).toThrow(message);
  });

  it('reads a document without components as an empty package set', () => {
    expect(
      packageSet(parseSbom(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5' }), 'x')).size,
    ).toBe(0);
  });
});

describe('packageSet', () => {
  it('keys packages by type, namespace, name and arch; skips components without a purl', () => {
    const set = packageSet(
      sbom(component('libc6', '2.36-9', 'amd64'), component('libc6', '2.36-9', 'i386'), {
        type: 'operating-system',
        name: 'debian',
        version: '12',
      }),
    );
    expect([...set.keys()]).toEqual(['deb/debian/libc6?arch=amd64', 'deb/debian/libc6?arch=i386']);
  });

  it('keeps every version of a package listed twice, in version order', () => {
    const set = packageSet(
      sbom(component('zlib1g', '1:1.2.13.dfsg-1'), component('zlib1g', '1:1.2.11.dfsg-2')),
    );
    expect(set.get('deb/debian/zlib1g?arch=amd64')?.version).toBe('1:1.2.11.dfsg-2, 1:1.2.13.dfsg-1');
  });
});

describe('diffPackages', () => {
  const before = packageSet(
    sbom(
      component('curl', '7.88.1-10+deb12u5'),
      component('telnet', '0.17+2.4-2'),
      component('libc6', '2.36-9+deb12u4'),
      component('libc6', '2.36-9+deb12u4', 'i386'),
      component('vim', '2:9.0.1378-2'),
      component('tzdata', '2024a-0+deb12u1'),
    ),
  );
  const after = packageSet(
    sbom(
      component('curl', '7.88.1-10+deb12u8'),
      component('libc6', '2.36-9+deb12u9'),
      component('vim', '2:9.0.1378-1'),
      component('tzdata', '2024a-0+deb12u1'),
      component('jq', '1.6-2.1'),
    ),
  );

  it('lists added, removed, upgraded and downgraded packages with versions, in key order', () => {
    expect(diffPackages(before, after)).toEqual({
      added: [{ key: 'deb/debian/jq?arch=amd64', name: 'jq', arch: 'amd64', version: '1.6-2.1' }],
      removed: [
        { key: 'deb/debian/libc6?arch=i386', name: 'libc6', arch: 'i386', version: '2.36-9+deb12u4' },
        { key: 'deb/debian/telnet?arch=amd64', name: 'telnet', arch: 'amd64', version: '0.17+2.4-2' },
      ],
      upgraded: [
        {
          key: 'deb/debian/curl?arch=amd64',
          name: 'curl',
          arch: 'amd64',
          from: '7.88.1-10+deb12u5',
          to: '7.88.1-10+deb12u8',
        },
        {
          key: 'deb/debian/libc6?arch=amd64',
          name: 'libc6',
          arch: 'amd64',
          from: '2.36-9+deb12u4',
          to: '2.36-9+deb12u9',
        },
      ],
      downgraded: [
        {
          key: 'deb/debian/vim?arch=amd64',
          name: 'vim',
          arch: 'amd64',
          from: '2:9.0.1378-2',
          to: '2:9.0.1378-1',
        },
      ],
      unchanged: 1,
    });
  });

  it('summarises counts and the first lines', () => {
    expect(diffSummary(diffPackages(before, after), 3)).toBe(
      [
        '1 added, 2 removed, 2 upgraded, 1 downgraded (1 unchanged)',
        '+ jq:amd64 1.6-2.1',
        '- libc6:i386 2.36-9+deb12u4',
        '- telnet:amd64 0.17+2.4-2',
        '… and 3 more',
      ].join('\n'),
    );
    expect(diffSummary(diffPackages(before, before))).toBe(
      '0 added, 0 removed, 0 upgraded, 0 downgraded (6 unchanged)',
    );
  });
});

describe('real syft v1.57.1 output (tests/events/sbom, trimmed from a Debian 12 inventory)', () => {
  const read = (name: string) =>
    packageSet(parseSbom(readFileSync(new URL(`../../events/sbom/${name}`, import.meta.url), 'utf8'), name));

  it('diffs the two inventories: nginx added, adwaita-icon-theme removed, openssl upgraded, curl downgraded', () => {
    const diff = diffPackages(read('syft-debian12-before.cdx.json'), read('syft-debian12-after.cdx.json'));

    expect(diffSummary(diff).split('\n')).toEqual([
      '1 added, 1 removed, 1 upgraded, 1 downgraded (37 unchanged)',
      '+ nginx:amd64 1.22.1-9+deb12u3',
      '- adwaita-icon-theme:all 43-1',
      '↑ openssl:amd64 3.0.19-1~deb12u2 → 3.0.20-1~deb12u1',
      '↓ curl:amd64 7.88.1-10+deb12u14 → 7.88.1-10+deb12u5',
    ]);
  });

  it('keys deb packages with their arch and pypi packages without, and skips the operating-system component', () => {
    const keys = [...read('syft-debian12-before.cdx.json').keys()];

    expect(keys).toContain('deb/debian/libssl3?arch=amd64');
    expect(keys).toContain('deb/debian/adduser?arch=all');
    expect(keys.filter((key) => key.startsWith('pypi/'))).toHaveLength(5);
    expect(keys.some((key) => key.includes('debian?') || key.endsWith('/debian'))).toBe(false);
  });
});
