import { laneTrack } from '../core/architectures.js';
import { diffPackages, diffSummary, packageSet, parseSbom } from '../core/sbom.js';
import { TAG } from '../core/tags.js';
import {
  assertScannable,
  countBySeverity,
  findingsOf,
  gateVerdict,
  notApplied,
  type VulnerabilityThreshold,
} from '../core/vulnerability-gate.js';
import { CandidateWithoutSbom } from '../errors.js';
import type { ChannelPointer, ImageStore, SbomStore, VulnerabilityScanner } from '../ports.js';
import type { Build, Candidate, Inspection } from '../schemas.js';

/** The diff against the channel's image, or why there is none (never an error: the diff informs). */
async function diffAgainstChannel(
  build: Pick<Build, 'pipeline' | 'channel'> & Partial<Build>,
  candidate: Pick<Candidate, 'imageId'>,
  after: ReturnType<typeof packageSet>,
  ports: { images: ImageStore; pointer: ChannelPointer; sboms: SbomStore },
): Promise<Inspection['diff']> {
  const current = await ports.pointer.current(laneTrack(build), build.channel);
  if (current === undefined)
    return {
      available: false,
      reason: `channel ${build.channel} of ${laneTrack(build)} serves no image yet`,
    };
  if (current.imageId === candidate.imageId)
    return { available: false, reason: `the channel already serves ${candidate.imageId}` };
  const image = await ports.images.getImage(current.imageId);
  const uri = image?.tags[TAG.sbom];
  if (image === undefined)
    return { available: false, reason: `the channel's image ${current.imageId} no longer exists` };
  if (uri === undefined || uri === '')
    return {
      available: false,
      reason: `the channel's image ${current.imageId} has no SBOM (baked before SBOMs)`,
    };
  let before: ReturnType<typeof packageSet>;
  try {
    before = packageSet(parseSbom(await ports.sboms.read(uri), uri));
  } catch (error) {
    return {
      available: false,
      reason: `the SBOM of the channel's image ${current.imageId}: ${(error as Error).message}`,
    };
  }
  const diff = diffPackages(before, after);
  return {
    available: true,
    againstImageId: current.imageId,
    againstSbom: uri,
    counts: {
      added: diff.added.length,
      removed: diff.removed.length,
      upgraded: diff.upgraded.length,
      downgraded: diff.downgraded.length,
      unchanged: diff.unchanged,
    },
    summary: diffSummary(diff),
  };
}

/**
 * State `InspectCandidate`, right after FindCandidateImage (before a test instance is launched):
 * reads the candidate's SBOM (`$.candidate.sbom`, the `factory:sbom` tag), diffs its packages
 * against the SBOM of the image the channel serves (its pointer on the build's architecture
 * track), scans it for vulnerabilities and applies the threshold (`core/vulnerability-gate.ts`).
 * With the threshold `NONE` the gate is off: nothing is scanned (scanner `none`).
 * A blocked verdict is returned, not thrown: the ASL's `IsVulnerabilityGatePassed` Choice routes
 * it to `VulnerabilityGateFailed` and the cleanup.
 * @returns `$.inspection` (`InspectionSchema`).
 * @throws CandidateWithoutSbom when the candidate has no SBOM; SbomUnreadable / SbomInvalid when
 *   its SBOM cannot be read or is no CycloneDX JSON; SbomTooLargeForScan (more than 5000
 *   components, before any scan call); the scanner's errors (Inspector's AccessDeniedException,
 *   InternalServerException, ValidationException, ThrottlingException after the SDK's retries);
 *   ScanReportInvalid when the scan's report cannot be read.
 */
export async function inspectCandidate(
  input: {
    build: Pick<Build, 'buildId' | 'pipeline' | 'channel'> & Partial<Build>;
    candidate: Pick<Candidate, 'imageId'> & Partial<Candidate>;
  },
  ports: { images: ImageStore; pointer: ChannelPointer; sboms: SbomStore; scanner: VulnerabilityScanner },
  options: { threshold: VulnerabilityThreshold },
): Promise<Inspection> {
  const { build, candidate } = input;
  const uri = candidate.sbom;
  if (uri === undefined) throw new CandidateWithoutSbom(candidate.imageId, build.buildId);
  const sbom = parseSbom(await ports.sboms.read(uri), uri);
  const packages = packageSet(sbom);
  const diff = await diffAgainstChannel(build, candidate, packages, ports);
  if (options.threshold === 'NONE')
    return {
      sbom: uri,
      components: sbom.components.length,
      packages: packages.size,
      diff,
      scanner: 'none',
      vulnerabilities: null,
      verdict: notApplied('NONE', 'threshold NONE: the gate is off, nothing was scanned'),
    };
  assertScannable(sbom);
  const scan = await ports.scanner.scan(sbom);
  if (!scan.scanned)
    return {
      sbom: uri,
      components: sbom.components.length,
      packages: packages.size,
      diff,
      scanner: ports.scanner.name,
      vulnerabilities: null,
      verdict: notApplied(options.threshold, scan.reason),
    };
  const findings = findingsOf(scan.report);
  return {
    sbom: uri,
    components: sbom.components.length,
    packages: packages.size,
    diff,
    scanner: ports.scanner.name,
    vulnerabilities: countBySeverity(findings),
    verdict: gateVerdict(findings, options.threshold),
  };
}
