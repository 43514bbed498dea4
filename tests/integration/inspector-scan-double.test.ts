/**
 * The InspectorScanDouble (moto has no inspector-scan) is never easier than AWS: requests are
 * validated against botocore's `inspector-scan` model, authorized as the caller's packaged role,
 * an SBOM over 5000 components is a ValidationException, and it reports the findings the test
 * configures as a CycloneDX 1.5 report that `core/vulnerability-gate.ts` reads.
 *
 * `@aws-sdk/client-inspector-scan` is not a dependency yet, so the requests here are signed by hand
 * (SigV4 with `@smithy/signature-v4`, the SDK's own signer) exactly as that client sends them:
 * restJson1 `POST /scan/sbom` with `{ sbom, outputFormat }`. Which roles may call it is checked in
 * `inspection.test.ts` (a refusal through the proxy would fail the file's teardown, by design).
 */
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSbom } from '#commons/core/sbom.js';
import { findingsOf, gateVerdict, SCAN_SBOM_OUTPUT_FORMAT } from '#commons/core/vulnerability-gate.js';
import { ROLE_HEADER } from './doubles/moto-gap-proxy.js';
import { sbomFixture } from './doubles/packer-bake-double.js';
import { type AwsSide, SETUP_TIMEOUT_MS, startAwsSide } from './harness.js';

let aws: AwsSide;

beforeAll(async () => {
  aws = await startAwsSide();
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await aws?.close();
});

/** ScanSbom as the client sends it, as `role`. */
const scanSbom = async (role: string, body: Record<string, unknown>) => {
  const url = new URL('/scan/sbom', aws.proxy.endpoint);
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const signer = new SignatureV4({
    service: 'inspector-scan',
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(request);
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...signed.headers, [ROLE_HEADER]: role },
    body: signed.body as string,
  });
  return {
    status: response.status,
    type: response.headers.get('x-amzn-errortype'),
    body: (await response.json()) as { sbom?: unknown; message?: string },
  };
};

const SBOM = JSON.parse(sbomFixture('syft-debian12-after.cdx.json')) as Record<string, unknown>;

describe('InspectorScanDouble', () => {
  it('reports the configured findings of the SBOM`s components, in the report the gate reads', async () => {
    aws.proxy.inspectorScan.configure([
      { id: 'CVE-2024-5535', severity: 'critical', component: 'openssl', fixedVersion: '3.0.21-1~deb12u1' },
      { id: 'CVE-2024-2398', severity: 'high', component: 'curl' },
      { id: 'CVE-2099-0001', severity: 'critical', component: 'not-installed' },
    ]);

    const reply = await scanSbom('InspectCandidateRole', {
      sbom: SBOM,
      outputFormat: SCAN_SBOM_OUTPUT_FORMAT,
    });

    expect(reply.status).toBe(200);
    const findings = findingsOf(reply.body.sbom);
    expect(findings).toEqual([
      {
        id: 'CVE-2024-5535',
        severity: 'critical',
        package: 'openssl 3.0.20-1~deb12u1',
        fixedVersion: '3.0.21-1~deb12u1',
      },
      { id: 'CVE-2024-2398', severity: 'high', package: 'curl 7.88.1-10+deb12u5' },
    ]);
    expect(gateVerdict(findings, 'CRITICAL').outcome).toBe('block');
    expect(aws.proxy.inspectorScan.scans).toContain(parseSbom(JSON.stringify(SBOM), 'x').components.length);
  });

  it('refuses what AWS refuses: over 5000 components, no CycloneDX 1.5, a bad outputFormat, a missing sbom', async () => {
    const big = {
      ...SBOM,
      components: Array.from({ length: 5001 }, (_, i) => ({ type: 'library', name: `p${i}` })),
    };

    const tooBig = await scanSbom('InspectCandidateRole', { sbom: big, outputFormat: 'CYCLONE_DX_1_5' });
    const spdx = await scanSbom('InspectCandidateRole', { sbom: { spdxVersion: 'SPDX-2.3' } });
    const format = await scanSbom('InspectCandidateRole', { sbom: SBOM, outputFormat: 'SPDX' });
    const missing = await scanSbom('InspectCandidateRole', { outputFormat: 'CYCLONE_DX_1_5' });

    expect([tooBig.status, tooBig.type]).toEqual([400, 'ValidationException']);
    expect(tooBig.body.message).toContain('5001 components');
    expect([spdx.status, spdx.type]).toEqual([400, 'ValidationException']);
    expect(format.status).toBe(400);
    expect(JSON.stringify(format.body)).toContain('outputFormat');
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain('sbom is required');
  });
});
