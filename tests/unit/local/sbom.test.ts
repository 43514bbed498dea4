import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SbomUnreadable } from '#commons/errors.js';
import { FileSbomStore, LOCAL_SCANNER_REASON, NoVulnerabilityScanner } from '#local/sbom.js';
import { renderSummary } from '#local/summary.js';

let root: string;
let catalog: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'sbom-'));
  catalog = path.join(root, 'catalog');
  await mkdir(path.join(catalog, 'images', 'local-img-0123456789abcdef0'), { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FileSbomStore', () => {
  it('reads an SBOM inside the catalog by its file:// URI', async () => {
    const file = path.join(catalog, 'images', 'local-img-0123456789abcdef0', 'sbom.cdx.json');
    await writeFile(file, '{"bomFormat":"CycloneDX"}');

    expect(await new FileSbomStore(catalog).read(pathToFileURL(file).href)).toBe('{"bomFormat":"CycloneDX"}');
  });

  it.each([
    ['an s3:// URI', () => 's3://bucket/sboms/web/b.cdx.json', /not a file:\/\/ URI/],
    [
      'a file outside the catalog',
      () => pathToFileURL(path.join(root, 'elsewhere.json')).href,
      /outside the local catalog/,
    ],
    ['a missing file', () => pathToFileURL(path.join(catalog, 'images', 'nope.json')).href, /ENOENT/],
    [
      'a ../ path out of the catalog',
      () => `file://${catalog}/images/../../elsewhere.json`,
      /outside the local catalog/,
    ],
  ])('refuses %s', async (_what, uri, message) => {
    await writeFile(path.join(root, 'elsewhere.json'), '{}');
    const read = new FileSbomStore(catalog).read(uri());

    await expect(read).rejects.toThrow(SbomUnreadable);
    await expect(new FileSbomStore(catalog).read(uri())).rejects.toThrow(message);
  });

  it('refuses a link inside the catalog that leads out of it', async () => {
    await writeFile(path.join(root, 'secret.json'), '{}');
    const link = path.join(catalog, 'images', 'local-img-0123456789abcdef0', 'sbom.cdx.json');
    await symlink(path.join(root, 'secret.json'), link);

    await expect(new FileSbomStore(catalog).read(pathToFileURL(link).href)).rejects.toThrow(
      /outside the local catalog/,
    );
  });
});

describe('NoVulnerabilityScanner', () => {
  it('scans nothing and says there is no vulnerability database locally', async () => {
    const scanner = new NoVulnerabilityScanner();

    expect(scanner.name).toBe('none');
    expect(await scanner.scan()).toEqual({ scanned: false, reason: LOCAL_SCANNER_REASON });
  });
});

describe('renderSummary with an inspection', () => {
  it('prints the SBOM path, the package diff against the previous image and the gate', () => {
    const text = renderSummary({
      status: 'SUCCEEDED',
      executionName: 'web-x',
      statesVisited: [],
      timings: [],
      executionSeconds: 1,
      totalSeconds: 1,
      output: {
        inspection: {
          sbom: 'file:///state/catalog/images/local-img-0123456789abcdef0/sbom.cdx.json',
          components: 3,
          packages: 2,
          diff: {
            available: true,
            againstImageId: 'local-img-00000000000000001',
            againstSbom: 'file:///state/catalog/images/local-img-00000000000000001/sbom.cdx.json',
            counts: { added: 1, removed: 0, upgraded: 1, downgraded: 0, unchanged: 0 },
            summary:
              '1 added, 0 removed, 1 upgraded, 0 downgraded (0 unchanged)\n+ jq:amd64 1.6-2.1\n↑ curl:amd64 7.88.1-10 → 7.88.1-10+deb12u8',
          },
          scanner: 'none',
          vulnerabilities: null,
          verdict: {
            outcome: 'pass',
            threshold: 'CRITICAL',
            applied: false,
            blocking: [],
            blockingCount: 0,
            summary: `not applied: ${LOCAL_SCANNER_REASON}`,
          },
        },
      },
    });

    expect(text).toContain(
      'sbom          /state/catalog/images/local-img-0123456789abcdef0/sbom.cdx.json (2 packages)',
    );
    expect(text).toContain(
      [
        'packages      against local-img-00000000000000001: 1 added, 0 removed, 1 upgraded, 0 downgraded (0 unchanged)',
        '              + jq:amd64 1.6-2.1',
        '              ↑ curl:amd64 7.88.1-10 → 7.88.1-10+deb12u8',
      ].join('\n'),
    );
    expect(text).toContain(`vulnerability not applied: ${LOCAL_SCANNER_REASON}`);
  });
});
