/**
 * The AWS backend's vulnerability scanner while `@aws-sdk/client-inspector-scan` is not a
 * dependency of this build: it fails closed. Amazon Inspector's `ScanSbom`
 * (https://docs.aws.amazon.com/inspector/v2/APIReference/API_scan_ScanSbom.html) needs that client;
 * until it is added, a stage whose `vulnerabilityThreshold` is not `NONE` stops every build at
 * InspectCandidate with this error instead of promoting an unscanned image.
 */
import { FactoryError } from '../errors.js';
import type { ScanOutcome, VulnerabilityScanner } from '../ports.js';

/** The scanner of this backend cannot run. */
export class VulnerabilityScannerUnavailable extends FactoryError {
  constructor(detail: string) {
    super('VulnerabilityScannerUnavailable', detail);
  }
}

export class UnavailableScanner implements VulnerabilityScanner {
  readonly name = 'inspector' as const;

  /** @throws VulnerabilityScannerUnavailable, always. */
  async scan(): Promise<ScanOutcome> {
    throw new VulnerabilityScannerUnavailable(
      'Amazon Inspector ScanSbom is not wired: @aws-sdk/client-inspector-scan is not installed in this build; set the stage parameter vulnerabilityThreshold to NONE to promote without a scan',
    );
  }
}
