/**
 * The local backend's SBOM store and vulnerability scanner.
 *
 * SBOMs live in the local catalog (`images/<imageId>/sbom.cdx.json`, written by the local bake) and
 * the image's `factory:sbom` tag names them as a `file://` URI. Only files inside the catalog are
 * read: a tag naming any other path (or another scheme) is refused, so a tampered catalog entry
 * cannot make the factory read arbitrary files.
 *
 * There is no vulnerability database on the local backend: the scanner scans nothing and says so,
 * and the gate passes with that reason (`core/vulnerability-gate.ts` `notApplied`).
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SbomUnreadable } from '#commons/errors.js';
import type { SbomStore, ScanOutcome, VulnerabilityScanner } from '#commons/ports.js';

/** Largest SBOM read, bytes (the same bound as the S3 store's). */
export const MAX_LOCAL_SBOM_BYTES = 64 * 1024 * 1024;

/** Why the local gate is not applied (reported in `$.inspection.verdict.summary`). */
export const LOCAL_SCANNER_REASON = 'no vulnerability database on the local backend: the gate is not applied';

export class FileSbomStore implements SbomStore {
  /** @param catalogRoot the catalog directory; only files under it are read. */
  constructor(private readonly catalogRoot: string) {}

  /**
   * @throws SbomUnreadable for a URI that is not `file://`, a path outside the catalog (after
   *   resolving symbolic links), a missing file or one over {@link MAX_LOCAL_SBOM_BYTES}.
   */
  async read(uri: string): Promise<string> {
    if (!uri.startsWith('file://'))
      throw new SbomUnreadable(uri, 'not a file:// URI (the local backend reads the catalog only)');
    let file: string;
    try {
      file = fileURLToPath(uri);
    } catch (error) {
      throw new SbomUnreadable(uri, (error as Error).message);
    }
    let real: string;
    let root: string;
    try {
      [real, root] = await Promise.all([realpath(file), realpath(this.catalogRoot)]);
    } catch (error) {
      throw new SbomUnreadable(
        uri,
        `${(error as NodeJS.ErrnoException).code ?? 'error'}: the file cannot be read`,
        {
          cause: error,
        },
      );
    }
    if (!real.startsWith(`${root}${path.sep}`))
      throw new SbomUnreadable(uri, `outside the local catalog ${root}`);
    const size = (await stat(real)).size;
    if (size > MAX_LOCAL_SBOM_BYTES)
      throw new SbomUnreadable(uri, `${size} bytes is over the ${MAX_LOCAL_SBOM_BYTES}-byte bound`);
    return readFile(real, 'utf8');
  }
}

/** No vulnerability database locally: nothing is scanned, and the reason is reported. */
export class NoVulnerabilityScanner implements VulnerabilityScanner {
  readonly name = 'none' as const;
  async scan(): Promise<ScanOutcome> {
    return { scanned: false, reason: LOCAL_SCANNER_REASON };
  }
}
