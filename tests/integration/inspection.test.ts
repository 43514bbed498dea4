/**
 * Issue 11 points 2-3 on the emulator: InspectCandidate through the real ASL with the real handlers
 * as their packaged roles. The bake double uploads a real syft SBOM to the stack's SBOM bucket in
 * moto and tags the AMI `factory:sbom`, as the runner does; InspectCandidate reads it (and the
 * channel image's) over S3 through the proxy (IAM evaluated against InspectCandidateRole), diffs
 * the packages and reports them in `$.inspection` and in Slack. A candidate without SBOM stops the
 * build before any test instance. The S3 and Inspector rights of the runner and the function are
 * checked against the packaged roles.
 *
 * The scan is the real client (`functions/commons/aws/inspector-scanner.ts`) against the proxy's
 * InspectorScanDouble (request validated against botocore's `inspector-scan` model, IAM evaluated
 * as InspectCandidateRole), with the stack's default threshold (CRITICAL): no finding passes, a
 * critical finding stops the build before any test instance and promotes nothing.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { ANY_INSTANCE } from './doubles/moto-gap-proxy.js';
import { bakeImageLikePacker, sbomFixture, uploadSbomLikeRunner } from './doubles/packer-bake-double.js';
import type { SlackWebhookDouble } from './doubles/slack-webhook-double.js';
import { buildDocument, PASSING_PROBE } from './fixtures/build.js';
import { PUBLISHED } from './fixtures/image-catalog.js';
import { runPipelineOnMoto, startPipelineSide, stopPipelineSide } from './fixtures/pipeline-run.js';
import {
  type AwsSide,
  invoke,
  type LambdaHandler,
  ownImages,
  SETUP_TIMEOUT_MS,
  stackSettings,
  tagsOf,
} from './harness.js';
import type { IamAuthorizer } from './iam/authorizer.js';

const { CHANNEL_PARAMETER_PREFIX: PREFIX } = stackSettings();
const SOURCE = PUBLISHED['ubuntu-24.04'].current;

let aws: AwsSide;

/** The web pipeline's pointer value on `channel` (undefined while it names nothing). */
const channelValue = (channel: string): Promise<string | undefined> =>
  aws.ssm
    .send(new GetParameterCommand({ Name: `${PREFIX}/web/${channel}` }))
    .then((answer) => answer.Parameter?.Value)
    .catch(() => undefined);
let slack: SlackWebhookDouble;
let handlers: Map<string, LambdaHandler>;

beforeAll(async () => {
  ({ aws, slack, handlers } = await startPipelineSide({
    parameter: BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
    imageId: SOURCE.imageId,
  }));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await stopPipelineSide({ aws, slack });
});

describe('InspectCandidate on the emulator', () => {
  it('diffs the candidate`s SBOM against the channel image`s, over S3, and reports it in $.inspection and Slack', async () => {
    // Prepare: the channel serves an older build of web whose SBOM is in the bucket.
    const older = { sourceCreatedAt: PUBLISHED['ubuntu-24.04'].previous.createdAt, sequence: 1 };
    const build = buildDocument({ pipeline: 'web', commit: '1'.repeat(40), order: older });
    const previous = await bakeImageLikePacker(aws.ec2, build);
    const previousSbom = await uploadSbomLikeRunner(
      aws.ec2,
      { s3: aws.s3, bucket: aws.sbomBucket, document: sbomFixture('syft-debian12-before.cdx.json') },
      { imageId: previous.imageId, pipeline: 'web', buildId: build.buildId },
    );
    await invoke(handlers.get('promote-image') as LambdaHandler, {
      build,
      candidate: {
        imageId: previous.imageId,
        name: 'previous',
        createdAt: '2026-11-01T00:00:00.000Z',
        snapshotIds: [],
      },
    });
    aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 1);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Success', stdout: PASSING_PROBE }]);
    slack.respondWith(200);
    const slackBefore = slack.received.length;

    // Act
    const run = await runPipelineOnMoto(
      aws,
      handlers,
      SOURCE.imageId,
      { pipeline: 'web', baseImage: 'ubuntu-24.04' },
      { sbom: sbomFixture('syft-debian12-after.cdx.json') },
    );

    // Assess
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.visited.slice(2, 5)).toEqual([
      'FindCandidateImage',
      'InspectCandidate',
      'IsVulnerabilityGatePassed',
    ]);
    const candidate = run.output?.candidate as { imageId: string; sbom: string };
    expect(candidate.sbom).toMatch(new RegExp(`^s3://${aws.sbomBucket}/sboms/web/web-.+\\.cdx\\.json$`));
    expect(run.output?.inspection).toMatchObject({
      sbom: candidate.sbom,
      components: 42,
      packages: 40,
      diff: {
        available: true,
        againstImageId: previous.imageId,
        againstSbom: previousSbom,
        counts: { added: 1, removed: 1, upgraded: 1, downgraded: 1, unchanged: 37 },
      },
      scanner: 'inspector',
      verdict: { outcome: 'pass', threshold: 'CRITICAL', applied: true },
    });
    expect(aws.proxy.inspectorScan.scans.at(-1)).toBe(42);
    const report = slack.received
      .slice(slackBefore)
      .map((message) => JSON.stringify(message))
      .join('\n');
    expect(report).toContain('Packages');
    expect(report).toContain('+ nginx:amd64 1.22.1-9+deb12u3');
    expect(report).toContain('↓ curl:amd64 7.88.1-10+deb12u14 → 7.88.1-10+deb12u5');
    expect(report).not.toContain('not applied');
  });

  it('stops a candidate with a CRITICAL finding before any test instance (ScanSbom through the real ASL)', async () => {
    // Prepare: Inspector reports a critical vulnerability in openssl.
    aws.proxy.inspectorScan.configure([
      { id: 'CVE-2026-0001', severity: 'critical', component: 'openssl', fixedVersion: '3.0.21-1~deb12u1' },
    ]);
    const channelBefore = await channelValue('gate');

    // Act
    const run = await runPipelineOnMoto(
      aws,
      handlers,
      SOURCE.imageId,
      { pipeline: 'web', baseImage: 'ubuntu-24.04', channel: 'gate' },
      { sbom: sbomFixture('syft-debian12-after.cdx.json') },
    ).finally(() => aws.proxy.inspectorScan.configure([]));

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('VulnerabilityGateFailed');
    expect(String(run.error?.Cause)).toContain('CVE-2026-0001');
    expect(run.visited).toContain('VulnerabilityGateFailed');
    expect(run.visited).not.toContain('LaunchTestInstance');
    expect(run.visited).not.toContain('PromoteImage');
    expect(run.visited).toContain('CleanupAfterFailure');
    const channelAfter = await channelValue('gate');
    expect(channelAfter).toBe(channelBefore);
  });

  it('stops a candidate without SBOM before any test instance, and deregisters it', async () => {
    // Act
    const run = await runPipelineOnMoto(
      aws,
      handlers,
      SOURCE.imageId,
      { pipeline: 'web', baseImage: 'ubuntu-24.04', channel: 'beta' },
      { sbom: null },
    );

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('CandidateWithoutSbom');
    expect(String(run.error?.Cause)).toContain('the bake produced no SBOM');
    expect(run.visited).not.toContain('LaunchTestInstance');
    expect(run.visited).toContain('CleanupAfterFailure');
    const candidates = (await ownImages(aws.ec2)).filter(
      (image) => tagsOf(image)['factory:channel'] === 'candidate',
    );
    expect(candidates).toEqual([]);
  });
});

describe('SBOM bucket and Inspector rights of the packaged roles', () => {
  const decide = async (role: string, service: string, operation: string, input: Record<string, unknown>) => {
    const iam = aws.proxy.iam as IamAuthorizer;
    const requests = await iam.requestsFor(service, operation, input);
    expect(requests.length).toBeGreaterThan(0);
    const decisions = await Promise.all(requests.map((request) => iam.simulate(role, request)));
    for (const decision of decisions) expect(decision.detail, decision.resource).toBeUndefined();
    return decisions.every((decision) => decision.result === 'Allowed') ? 'Allowed' : 'Denied';
  };
  const object = (key: string) => ({ Bucket: aws.sbomBucket, Key: key });

  it.each<
    [string, string, string, Record<string, unknown> | (() => Record<string, unknown>), 'Allowed' | 'Denied']
  >([
    [
      'the runner writes its SBOM under sboms/',
      'PackerTaskRole',
      'PutObject',
      () => object('sboms/web/b.cdx.json'),
      'Allowed',
    ],
    [
      'the runner writes nowhere else',
      'PackerTaskRole',
      'PutObject',
      () => object('other/web/b.cdx.json'),
      'Denied',
    ],
    [
      'the runner reads no SBOM',
      'PackerTaskRole',
      'GetObject',
      () => object('sboms/web/b.cdx.json'),
      'Denied',
    ],
    ['the runner cannot scan', 'PackerTaskRole', 'ScanSbom', {}, 'Denied'],
    [
      'InspectCandidate reads SBOMs',
      'InspectCandidateRole',
      'GetObject',
      () => object('sboms/web/b.cdx.json'),
      'Allowed',
    ],
    [
      'InspectCandidate reads nothing else',
      'InspectCandidateRole',
      'GetObject',
      () => object('secrets/x'),
      'Denied',
    ],
    [
      'InspectCandidate writes nothing',
      'InspectCandidateRole',
      'PutObject',
      () => object('sboms/web/b.cdx.json'),
      'Denied',
    ],
    ['InspectCandidate scans', 'InspectCandidateRole', 'ScanSbom', {}, 'Allowed'],
    [
      'another bucket is not the store',
      'InspectCandidateRole',
      'GetObject',
      { Bucket: 'elsewhere', Key: 'sboms/web/b.cdx.json' },
      'Denied',
    ],
    [
      'FindCandidateImage reads no SBOM',
      'FindCandidateImageRole',
      'GetObject',
      () => object('sboms/web/b.cdx.json'),
      'Denied',
    ],
  ])('%s', async (_what, role, operation, input, expected) => {
    const service = operation === 'ScanSbom' ? 'inspector-scan' : 's3';
    expect(await decide(role, service, operation, typeof input === 'function' ? input() : input)).toBe(
      expected,
    );
  });
});
