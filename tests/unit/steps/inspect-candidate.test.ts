import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SbomInvalid } from '#commons/core/sbom.js';
import { SbomTooLargeForScan } from '#commons/core/vulnerability-gate.js';
import { CandidateWithoutSbom } from '#commons/errors.js';
import { inspectCandidate } from '#commons/steps/inspect-candidate.js';
import {
  MemoryChannelPointer,
  MemoryImageStore,
  MemorySbomStore,
  ScriptedScanner,
} from '../helpers/fakes.js';

const fixture = (name: string) => readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8');
const BEFORE = 's3://b/sboms/web/old.cdx.json';
const AFTER = 's3://b/sboms/web/new.cdx.json';
const build = { buildId: 'web-new', pipeline: 'web', channel: 'stable' };
const candidate = { imageId: 'ami-0000000000000000c', sbom: AFTER };
const clean = { scanned: true as const, report: { bomFormat: 'CycloneDX', vulnerabilities: [] } };

/** The channel web/stable serves ami-…a, tagged with `sbom` (none: untagged). */
const account = async (sbom: string | undefined, architecture?: 'arm64') => {
  const images = new MemoryImageStore([
    {
      imageId: 'ami-0000000000000000a',
      name: 'old',
      createdAt: '2026-01-01T00:00:00Z',
      tags: { 'factory:pipeline': 'web', ...(sbom ? { 'factory:sbom': sbom } : {}) },
      snapshotIds: [],
    },
  ]);
  const pointer = new MemoryChannelPointer();
  await pointer.point(architecture ? `web/${architecture}` : 'web', 'stable', 'ami-0000000000000000a');
  const sboms = new MemorySbomStore(
    new Map([
      [BEFORE, fixture('sbom/syft-debian12-before.cdx.json')],
      [AFTER, fixture('sbom/syft-debian12-after.cdx.json')],
    ]),
  );
  return { images, pointer, sboms };
};

describe('inspectCandidate', () => {
  it('diffs against the channel image, scans the candidate SBOM and passes a clean report', async () => {
    const ports = await account(BEFORE);
    const scanner = new ScriptedScanner('inspector', clean);

    const inspection = await inspectCandidate(
      { build, candidate },
      { ...ports, scanner },
      { threshold: 'CRITICAL' },
    );

    expect(inspection).toMatchObject({
      sbom: AFTER,
      components: 42,
      packages: 40,
      scanner: 'inspector',
      diff: { available: true, againstImageId: 'ami-0000000000000000a', againstSbom: BEFORE },
      vulnerabilities: { critical: 0, high: 0 },
      verdict: { outcome: 'pass', applied: true },
    });
    expect(inspection.diff.available && inspection.diff.summary.split('\n').slice(0, 2)).toEqual([
      '1 added, 1 removed, 1 upgraded, 1 downgraded (37 unchanged)',
      '+ nginx:amd64 1.22.1-9+deb12u3',
    ]);
    expect(scanner.scanned).toHaveLength(1);
  });

  it.each<[string, () => ReturnType<typeof account>, RegExp]>([
    [
      'the channel serves nothing',
      async () => ({ ...(await account(BEFORE)), pointer: new MemoryChannelPointer() }),
      /serves no image yet/,
    ],
    ['the channel image has no SBOM', () => account(undefined), /has no SBOM \(baked before SBOMs\)/],
    [
      'its SBOM cannot be read',
      () => account('s3://b/sboms/web/gone.cdx.json'),
      /cannot read the SBOM at .*gone/,
    ],
    ['an arm64 pointer only (another track)', () => account(BEFORE, 'arm64'), /serves no image yet/],
  ])('reports the diff as not available when %s, and goes on', async (_what, make, reason) => {
    const inspection = await inspectCandidate(
      { build, candidate },
      { ...(await make()), scanner: new ScriptedScanner('inspector', clean) },
      { threshold: 'CRITICAL' },
    );

    expect(inspection.diff.available).toBe(false);
    expect(!inspection.diff.available && inspection.diff.reason).toMatch(reason);
    expect(inspection.verdict.outcome).toBe('pass');
  });

  it('refuses a candidate without SBOM, naming the missing bake output', async () => {
    const ports = await account(BEFORE);

    await expect(
      inspectCandidate(
        { build, candidate: { imageId: candidate.imageId } },
        { ...ports, scanner: new ScriptedScanner('inspector', clean) },
        { threshold: 'CRITICAL' },
      ),
    ).rejects.toThrow(CandidateWithoutSbom);
  });

  it('refuses an SBOM that is no CycloneDX, and one over 5000 components before scanning', async () => {
    const ports = await account(BEFORE);
    ports.sboms.documents.set(AFTER, JSON.stringify({ spdxVersion: 'SPDX-2.3' }));
    const scanner = new ScriptedScanner('inspector', clean);
    await expect(
      inspectCandidate({ build, candidate }, { ...ports, scanner }, { threshold: 'CRITICAL' }),
    ).rejects.toThrow(SbomInvalid);

    ports.sboms.documents.set(
      AFTER,
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.5',
        components: Array.from({ length: 5001 }, (_, i) => ({ type: 'library', name: `p${i}` })),
      }),
    );
    await expect(
      inspectCandidate({ build, candidate }, { ...ports, scanner }, { threshold: 'CRITICAL' }),
    ).rejects.toThrow(SbomTooLargeForScan);
    expect(scanner.scanned).toHaveLength(0);
  });

  it('blocks on the recorded report at CRITICAL; NONE scans nothing; no scanner passes with its reason', async () => {
    const ports = await account(BEFORE);
    const report = (JSON.parse(fixture('inspector-scan/scan-sbom-cyclonedx.json')) as { sbom: unknown }).sbom;
    const inspector = new ScriptedScanner('inspector', { scanned: true, report });

    const blocked = await inspectCandidate(
      { build, candidate },
      { ...ports, scanner: inspector },
      { threshold: 'CRITICAL' },
    );
    const off = await inspectCandidate(
      { build, candidate },
      { ...ports, scanner: inspector },
      { threshold: 'NONE' },
    );
    const local = await inspectCandidate(
      { build, candidate },
      { ...ports, scanner: new ScriptedScanner('none', { scanned: false, reason: 'no database' }) },
      { threshold: 'CRITICAL' },
    );

    expect(blocked.verdict).toMatchObject({ outcome: 'block', blockingCount: 2 });
    expect(blocked.vulnerabilities).toMatchObject({ critical: 2, high: 1, medium: 1 });
    expect(off).toMatchObject({
      scanner: 'none',
      vulnerabilities: null,
      verdict: { outcome: 'pass', applied: false },
    });
    expect(inspector.scanned).toHaveLength(1);
    expect(local).toMatchObject({
      scanner: 'none',
      verdict: { outcome: 'pass', applied: false, summary: 'not applied: no database' },
    });
  });

  it('propagates the scanner`s error (e.g. AccessDeniedException)', async () => {
    const ports = await account(BEFORE);
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });

    await expect(
      inspectCandidate(
        { build, candidate },
        { ...ports, scanner: new ScriptedScanner('inspector', denied) },
        { threshold: 'CRITICAL' },
      ),
    ).rejects.toThrow('not authorized');
  });
});
