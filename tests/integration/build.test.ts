/**
 * PrepareBuild and FindCandidateImage against moto: the source image comes from the vendor's public
 * parameter (PublicParameterPublisher) and its owner is checked with `DescribeImages`; the image
 * definition is the configured repository (a real git server, `aws.git`) at the head of its branch,
 * resolved through git's ref discovery; the candidate is found by its ownership tags among the
 * account's own images only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { buildId, executionName } from '#commons/core/build-key.js';
import { bakeImageLikePacker } from './doubles/packer-bake-double.js';
import { buildDocument } from './fixtures/build.js';
import { FOREIGN_IMAGE, IMPOSTOR_BUILD_KEY, IMPOSTOR_IMAGE, PUBLISHED } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  importHandler,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
} from './harness.js';

const PLAN = stackSettings().INCIDENT_RESPONSE_PLAN_ARN;

let aws: AwsSide;
let prepareBuild: LambdaHandler<Record<string, unknown>>;
let findCandidate: LambdaHandler<Record<string, unknown>>;

const execution = (name: string) => ({
  Id: `arn:aws:states:us-east-1:123456789012:execution:image-factory:${name}`,
  Name: name,
  StartTime: '2026-11-21T12:00:00.000Z',
});

beforeAll(async () => {
  aws = await startAwsSide({ env: { PROBE_TIMEOUT_SECONDS: '900', INCIDENT_RESPONSE_PLAN_ARN: PLAN } });
  aws.proxy.publicParameters.publish(
    BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
    PUBLISHED['ubuntu-24.04'].current.imageId,
  );
  aws.proxy.publicParameters.publish(BASE_IMAGES.al2023.ssmParameters.x86_64, FOREIGN_IMAGE.imageId);
  prepareBuild = await importHandler('prepare-build');
  findCandidate = await importHandler('find-candidate-image');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await aws?.close();
});

describe('PrepareBuild', () => {
  it("resolves the vendor's current image and fixes the build id and execution name", async () => {
    // Prepare
    const source = PUBLISHED['ubuntu-24.04'].current;
    const name = executionName({ pipeline: 'web', channel: 'stable', sourceImageId: source.imageId });
    const head = aws.git.commit('main', { 'ansible/site.yml': '# newer\n' }, 'newer definition');

    // Act
    const build = await invoke(prepareBuild, {
      input: { pipeline: 'web', baseImage: 'ubuntu-24.04' },
      execution: execution(name),
    });

    // Assess
    expect(build).toMatchObject({
      buildId: buildId({ pipeline: 'web', executionArn: execution(name).Id }),
      // No repository and no commit requested: the configured repository at its branch head now.
      repository: aws.git.url,
      commit: head,
      pipeline: 'web',
      channel: 'stable',
      trigger: 'manual',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'web',
      sourceImageId: source.imageId,
      sourceImageName: source.name,
      executionName: name,
      startedAt: '2026-11-21T12:00:00.000Z',
      probeTimeoutSeconds: 900,
      incidentResponsePlanArn: PLAN,
    });
  });

  it('accepts an explicit source image of the trusted publisher', async () => {
    // Act
    const build = await invoke(prepareBuild, {
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      sourceImageId: PUBLISHED['ubuntu-24.04'].previous.imageId,
      commit: 'a'.repeat(40),
    });

    // Assess
    expect(build).toMatchObject({
      sourceImageId: PUBLISHED['ubuntu-24.04'].previous.imageId,
      commit: 'a'.repeat(40),
    });
  });

  it('keeps a requested repository and commit as they are (git pushes)', async () => {
    // Act
    const build = await invoke(prepareBuild, {
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      trigger: 'git-push',
      repository: 'codecommit::us-east-1://images',
      commit: 'b'.repeat(40),
    });

    // Assess
    expect(build).toMatchObject({ repository: 'codecommit::us-east-1://images', commit: 'b'.repeat(40) });
  });

  it('refuses a repository the runner could not fetch, and a short commit', async () => {
    // Act
    const withCredentials = await invokeExpectingError(prepareBuild, {
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      repository: 'https://user:secret@github.com/acme/images.git',
    });
    const short = await invokeExpectingError(prepareBuild, {
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      commit: 'abcdef1',
    });

    // Assess
    expect(withCredentials).toMatchObject({
      name: 'InvalidInput',
      message: expect.stringMatching(/repository/),
    });
    expect(short).toMatchObject({ name: 'InvalidInput', message: expect.stringMatching(/40-character/) });
  });

  it('refuses a source image of an untrusted owner, explicit or published (ForeignBaseImage)', async () => {
    // Act
    const explicit = await invokeExpectingError(prepareBuild, {
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      sourceImageId: FOREIGN_IMAGE.imageId,
    });
    const published = await invokeExpectingError(prepareBuild, {
      pipeline: 'api',
      baseImage: 'al2023',
      imageDefinition: 'base',
    });

    // Assess
    expect(explicit.name).toBe('ForeignBaseImage');
    expect(published.name).toBe('ForeignBaseImage');
  });

  it('fails with named errors for a missing image, an unpublished parameter, a malformed request and an unknown image definition', async () => {
    // Act
    const missing = await invokeExpectingError(prepareBuild, {
      pipeline: 'web',
      baseImage: 'ubuntu-24.04',
      sourceImageId: 'ami-0123456789abcdef0',
    });
    const unpublished = await invokeExpectingError(prepareBuild, { pipeline: 'web', baseImage: 'debian-12' });
    const malformed = await invokeExpectingError(prepareBuild, {
      pipeline: 'web',
      baseimage: 'ubuntu-24.04',
    });
    const undefinedImage = await invokeExpectingError(prepareBuild, {
      pipeline: 'api',
      baseImage: 'ubuntu-24.04',
    });

    // Assess
    expect(missing.name).toBe('InvalidInput');
    expect(unpublished.name).toBe('MissingConfiguration');
    expect(malformed.name).toBe('InvalidInput');
    expect(undefinedImage).toMatchObject({
      name: 'UnknownImageDefinition',
      message: expect.stringContaining('expected one of: base, web'),
    });
  });
});

describe('FindCandidateImage', () => {
  it('finds the image the bake registered, with its snapshots', async () => {
    // Prepare
    const build = buildDocument({ pipeline: 'find' });
    const baked = await bakeImageLikePacker(aws.ec2, build);

    // Act
    const candidate = await invoke(findCandidate, { build });

    // Assess
    expect(candidate).toMatchObject({
      imageId: baked.imageId,
      name: baked.tags.Name,
      snapshotIds: baked.snapshotIds,
    });
  });

  it("never takes another account's image that carries our tags (CandidateNotFound)", async () => {
    // Prepare
    const build = {
      ...buildDocument({ pipeline: IMPOSTOR_BUILD_KEY.pipeline }),
      buildId: buildId(IMPOSTOR_BUILD_KEY),
    };
    expect(IMPOSTOR_IMAGE.tags?.['factory:build-id']).toBe(build.buildId);

    // Act
    const error = await invokeExpectingError(findCandidate, { build });

    // Assess
    expect(error.name).toBe('CandidateNotFound');
  });
});
