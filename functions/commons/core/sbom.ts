/**
 * SBOM reading and package diff. Pure.
 *
 * The factory's SBOMs are CycloneDX 1.5 JSON documents made by syft at bake time (`factory:sbom`,
 * `core/tags.ts`). Only the subset read here is validated: `bomFormat`, `specVersion` and each
 * component's `type`, `name`, `version`, `purl`, `bom-ref`; everything else is kept as is.
 *
 * A package is identified by its package URL without the version: purl type, namespace, name and
 * the `arch` qualifier (`pkg:deb/debian/libc6@2.36-9?arch=amd64` and `…?arch=i386` are two
 * packages). Components without a purl (syft's file and operating-system components) are no
 * packages.
 *
 * Sources:
 * - CycloneDX 1.5 JSON: https://cyclonedx.org/docs/1.5/json/ (`bomFormat` is the constant
 *   `CycloneDX`; `components[].purl`, `bom-ref`).
 * - Package URL: https://github.com/package-url/purl-spec/blob/master/PURL-SPECIFICATION.rst
 *   (`pkg:type/namespace/name@version?qualifiers#subpath`, each part percent-encoded).
 * - Debian version order: deb-version(7), https://manpages.debian.org/bookworm/dpkg-dev/deb-version.7.en.html
 *   ("Sorting algorithm"), implemented in {@link compareDebianVersions}.
 */
import * as z from 'zod';

/** One CycloneDX component, as far as the factory reads it. */
export const CycloneDxComponent = z.looseObject({
  type: z.string().min(1),
  name: z.string().min(1),
  version: z.string().optional(),
  purl: z.string().optional(),
  'bom-ref': z.string().optional(),
});
export type CycloneDxComponent = z.infer<typeof CycloneDxComponent>;

/** The subset of a CycloneDX 1.5 JSON document the factory reads. */
export const CycloneDxDocument = z.looseObject({
  bomFormat: z.literal('CycloneDX'),
  specVersion: z.string().regex(/^1\.\d+$/),
  components: z.array(CycloneDxComponent).default([]),
});
export type CycloneDxDocument = z.infer<typeof CycloneDxDocument>;

/** The document is no CycloneDX JSON SBOM the factory can read. */
export class SbomInvalid extends Error {
  constructor(where: string, detail: string) {
    super(`${where} is not a CycloneDX JSON SBOM: ${detail}`);
    this.name = 'SbomInvalid';
  }
}

/**
 * Parse an SBOM's text.
 * @param where names the document in errors (its URI).
 * @throws SbomInvalid when the text is no JSON, `bomFormat` is not `CycloneDX`, or a component
 *   lacks its `type` or `name` (the first problem, with its path).
 */
export const parseSbom = (text: string, where: string): CycloneDxDocument => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SbomInvalid(where, `not JSON (${(error as Error).message})`);
  }
  const parsed = CycloneDxDocument.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') || '(document)';
    throw new SbomInvalid(where, `${path}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
};

/** A package of an SBOM: identity without the version, plus the version. */
export interface SbomPackage {
  /** `type/namespace/name` plus `?arch=<arch>` when the purl has one, e.g. `deb/debian/libc6?arch=amd64`. */
  key: string;
  /** The package name (`libc6`). */
  name: string;
  /** purl type (`deb`, `npm`, `pypi`, …): it decides how versions compare. */
  type: string;
  /** The `arch` qualifier, when present. */
  arch?: string | undefined;
  /** The purl version (percent-decoded), or the component's `version`, or ''. */
  version: string;
}

const decode = (part: string): string => {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
};

/**
 * The package of a purl, or undefined when the string is no `pkg:` URL with a type and a name.
 */
export const packageOfPurl = (purl: string, fallbackVersion = ''): SbomPackage | undefined => {
  if (!purl.startsWith('pkg:')) return undefined;
  let rest = purl.slice(4).replace(/^\/+/, '');
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  let qualifiers = '';
  const question = rest.indexOf('?');
  if (question >= 0) {
    qualifiers = rest.slice(question + 1);
    rest = rest.slice(0, question);
  }
  let version = fallbackVersion;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    version = decode(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  const segments = rest.split('/').filter((segment) => segment !== '');
  if (segments.length < 2) return undefined;
  const type = (segments[0] as string).toLowerCase();
  const name = decode(segments[segments.length - 1] as string);
  const namespace = segments.slice(1, -1).map(decode).join('/');
  const arch = qualifiers
    .split('&')
    .map((pair) => pair.split('='))
    .find(([key]) => key?.toLowerCase() === 'arch')?.[1];
  const archValue = arch === undefined || arch === '' ? undefined : decode(arch);
  const key = `${type}/${namespace === '' ? '' : `${namespace}/`}${name}${archValue === undefined ? '' : `?arch=${archValue}`}`;
  return { key, name, type, arch: archValue, version };
};

/**
 * The package set of an SBOM, keyed by {@link SbomPackage.key}. A package listed twice with
 * different versions (syft lists what it found in several places) keeps every version, joined
 * by `, ` in version order, so a diff shows it rather than picking one.
 */
export const packageSet = (sbom: CycloneDxDocument): Map<string, SbomPackage> => {
  const versions = new Map<string, { pkg: SbomPackage; all: Set<string> }>();
  for (const component of sbom.components) {
    if (component.purl === undefined) continue;
    const pkg = packageOfPurl(component.purl, component.version ?? '');
    if (pkg === undefined) continue;
    const known = versions.get(pkg.key);
    if (known === undefined) versions.set(pkg.key, { pkg, all: new Set([pkg.version]) });
    else known.all.add(pkg.version);
  }
  const set = new Map<string, SbomPackage>();
  for (const [key, { pkg, all }] of [...versions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const sorted = [...all].sort((a, b) => compareVersions(pkg.type, a, b));
    set.set(key, { ...pkg, version: sorted.join(', ') });
  }
  return set;
};

// --- Debian version order (deb-version(7), "Sorting algorithm") -----------------------------------

/** `[epoch:]upstream_version[-debian_revision]`; epoch defaults to 0, revision to ''. */
const splitDebianVersion = (version: string): { epoch: number; upstream: string; revision: string } => {
  let rest = version.trim();
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon >= 0 && /^\d+$/.test(rest.slice(0, colon))) {
    epoch = Number(rest.slice(0, colon));
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) return { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
  return { epoch, upstream: rest, revision: '' };
};

/**
 * Weight of one character in the non-digit comparison: `~` sorts before everything, even the end
 * of the part; letters before non-letters (dpkg's `order()`).
 */
const weight = (char: string | undefined): number => {
  if (char === undefined) return 0;
  if (char === '~') return -1;
  if (/[0-9]/.test(char)) return 0;
  if (/[A-Za-z]/.test(char)) return char.charCodeAt(0);
  return char.charCodeAt(0) + 256;
};

/** Compare two upstream versions or revisions by alternating non-digit and digit runs. */
const compareDebianPart = (a: string, b: string): number => {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // The non-digit run, character by character with the weights above.
    while (
      (i < a.length && !/[0-9]/.test(a[i] as string)) ||
      (j < b.length && !/[0-9]/.test(b[j] as string))
    ) {
      const wa = weight(i < a.length && !/[0-9]/.test(a[i] as string) ? a[i] : undefined);
      const wb = weight(j < b.length && !/[0-9]/.test(b[j] as string) ? b[j] : undefined);
      if (wa !== wb) return wa < wb ? -1 : 1;
      if (i < a.length && !/[0-9]/.test(a[i] as string)) i += 1;
      if (j < b.length && !/[0-9]/.test(b[j] as string)) j += 1;
    }
    // The digit run, numerically (leading zeros ignored; an empty run is 0).
    let da = '';
    let db = '';
    while (i < a.length && /[0-9]/.test(a[i] as string)) da += a[i++];
    while (j < b.length && /[0-9]/.test(b[j] as string)) db += b[j++];
    const na = da.replace(/^0+/, '');
    const nb = db.replace(/^0+/, '');
    if (na.length !== nb.length) return na.length < nb.length ? -1 : 1;
    if (na !== nb) return na < nb ? -1 : 1;
  }
  return 0;
};

/**
 * Order of two Debian package versions, as `dpkg --compare-versions` (deb-version(7)): epochs
 * numerically, then the upstream versions, then the Debian revisions, each compared as
 * alternating non-digit runs (`~` first, then the end, letters, other characters) and digit runs
 * (numerically).
 * @returns a negative number, 0 or a positive number.
 */
export const compareDebianVersions = (a: string, b: string): number => {
  const va = splitDebianVersion(a);
  const vb = splitDebianVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  return compareDebianPart(va.upstream, vb.upstream) || compareDebianPart(va.revision, vb.revision);
};

/**
 * Order of two versions of a package of purl type `type`: Debian's rules for `deb`, and the same
 * digit-run / non-digit-run comparison (without epochs) for every other type, which orders the
 * usual dotted versions (`1.10.0` after `1.9.2`) the way their ecosystems do.
 */
export const compareVersions = (type: string, a: string, b: string): number =>
  type === 'deb' ? compareDebianVersions(a, b) : compareDebianPart(a, b);

// --- Package diff ----------------------------------------------------------------------------------

export interface PackageChange {
  key: string;
  name: string;
  arch?: string | undefined;
  from: string;
  to: string;
}

export interface PackageEntry {
  key: string;
  name: string;
  arch?: string | undefined;
  version: string;
}

/** The package changes from one SBOM to another, each list in key order. */
export interface PackageDiff {
  added: PackageEntry[];
  removed: PackageEntry[];
  upgraded: PackageChange[];
  downgraded: PackageChange[];
  /** Packages in both with the same version. */
  unchanged: number;
}

const entry = (pkg: SbomPackage): PackageEntry => ({
  key: pkg.key,
  name: pkg.name,
  ...(pkg.arch === undefined ? {} : { arch: pkg.arch }),
  version: pkg.version,
});

/**
 * The packages added, removed, upgraded and downgraded from `before` to `after` (package sets of
 * {@link packageSet}). A version change is an upgrade when the new version orders after the old
 * one by {@link compareVersions}; equal-ordering but different strings (`1.0` and `1.00`) count as
 * upgrades too, so no change is hidden.
 */
export const diffPackages = (
  before: ReadonlyMap<string, SbomPackage>,
  after: ReadonlyMap<string, SbomPackage>,
): PackageDiff => {
  const diff: PackageDiff = { added: [], removed: [], upgraded: [], downgraded: [], unchanged: 0 };
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const key of keys) {
    const old = before.get(key);
    const next = after.get(key);
    if (old === undefined && next !== undefined) diff.added.push(entry(next));
    else if (old !== undefined && next === undefined) diff.removed.push(entry(old));
    else if (old !== undefined && next !== undefined) {
      if (old.version === next.version) {
        diff.unchanged += 1;
        continue;
      }
      const change: PackageChange = {
        key,
        name: next.name,
        ...(next.arch === undefined ? {} : { arch: next.arch }),
        from: old.version,
        to: next.version,
      };
      if (compareVersions(next.type, old.version, next.version) > 0) diff.downgraded.push(change);
      else diff.upgraded.push(change);
    }
  }
  return diff;
};

/** How a package is named in text: `libc6:amd64` (Debian's own spelling), or the name. */
export const packageLabel = (pkg: { name: string; arch?: string | undefined }): string =>
  pkg.arch === undefined ? pkg.name : `${pkg.name}:${pkg.arch}`;

/** One line of counts: `3 added, 1 removed, 12 upgraded, 0 downgraded (412 unchanged)`. */
export const diffCounts = (diff: PackageDiff): string =>
  `${diff.added.length} added, ${diff.removed.length} removed, ${diff.upgraded.length} upgraded, ${diff.downgraded.length} downgraded (${diff.unchanged} unchanged)`;

/** Every change as one line each: `+ curl 7.88.1-10`, `- telnet 0.17-44`, `↑ libc6:amd64 2.36-9 → 2.36-9+deb12u4`, `↓ …`. */
export const diffLines = (diff: PackageDiff): string[] => [
  ...diff.added.map((pkg) => `+ ${packageLabel(pkg)} ${pkg.version}`),
  ...diff.removed.map((pkg) => `- ${packageLabel(pkg)} ${pkg.version}`),
  ...diff.upgraded.map((pkg) => `↑ ${packageLabel(pkg)} ${pkg.from} → ${pkg.to}`),
  ...diff.downgraded.map((pkg) => `↓ ${packageLabel(pkg)} ${pkg.from} → ${pkg.to}`),
];

/** Lines of a summary shown by default (Slack, the CLI's status). */
export const SUMMARY_LINES = 15;

/**
 * A short text for Slack and the CLI: the counts, then at most `maxLines` change lines and
 * `… and N more` when there are more.
 */
export const diffSummary = (diff: PackageDiff, maxLines: number = SUMMARY_LINES): string => {
  const lines = diffLines(diff);
  const shown = lines.slice(0, Math.max(0, maxLines));
  const more = lines.length - shown.length;
  return [diffCounts(diff), ...shown, ...(more > 0 ? [`… and ${more} more`] : [])].join('\n');
};
