/**
 * Layered builds on moto: the whole ASL with the REAL handlers as their stack roles (see
 * fixtures/pipeline-run.ts). A `base` pipeline bakes from the vendor's AMI and is promoted; a manual
 * execution of `layered` with `parent: { pipeline: 'base' }` then resolves the base channel's
 * pointer through the packaged PrepareBuild role, and the PackerBakeDouble (the runner's contract:
 * `SOURCE_AMI_ID`, `BASE_IMAGE`, `BUILD_JSON.parent`) registers a child AMI tagged with its lineage.
 * A parent channel that names nothing, an image of another pipeline, or an image of another
 * account (seeded with our tags, `IMPOSTOR_IMAGE`) stops the execution at PrepareBuild.
 */
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { ANY_INSTANCE } from './doubles/moto-gap-proxy.js';
import type { SlackWebhookDouble } from './doubles/slack-webhook-double.js';
import { PASSING_PROBE } from './fixtures/build.js';
import { IMPOSTOR_IMAGE, PUBLISHED } from './fixtures/image-catalog.js';
import {
  type Run,
  type RunInput,
  runPipelineOnMoto,
  startPipelineSide,
  stopPipelineSide,
} from './fixtures/pipeline-run.js';
import {
  type AwsSide,
  type LambdaHandler,
  ownImages,
  SETUP_TIMEOUT_MS,
  stackSettings,
  tagsOf,
} from './harness.js';

const { CHANNEL_PARAMETER_PREFIX: PREFIX } = stackSettings();
const VENDOR = PUBLISHED['ubuntu-24.04'].current;

let aws: AwsSide;
let slack: SlackWebhookDouble;
let handlers: Map<string, LambdaHandler>;

const runPipeline = (sourceImageId: string, input: RunInput): Promise<Run> =>
  runPipelineOnMoto(aws, handlers, sourceImageId, input);

const imagesOf = async (pipeline: string) =>
  (await ownImages(aws.ec2)).filter((image) => tagsOf(image)['factory:pipeline'] === pipeline);

/** A probe that passes on whatever test instance comes up next. */
const probePasses = (): void => {
  aws.proxy.ssmAgent.goesOnline(ANY_INSTANCE, 0);
  aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [{ status: 'Success', stdout: PASSING_PROBE }]);
  slack.respondWith(200);
};

beforeAll(async () => {
  ({ aws, slack, handlers } = await startPipelineSide({
    parameter: BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
    imageId: VENDOR.imageId,
  }));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await stopPipelineSide({ aws, slack });
});

describe('layered builds on moto', () => {
  it("bakes a child from the parent channel's promoted AMI, inheriting its base image, tagged with the lineage", async () => {
    // Prepare: the parent pipeline's own build, promoted to base/stable.
    probePasses();
    const parentRun = await runPipeline(VENDOR.imageId, {
      pipeline: 'base',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'base',
    });
    expect(parentRun.error).toBeUndefined();
    const parentId = (parentRun.output?.promotion as { imageId?: string } | undefined)?.imageId ?? '';
    probePasses();

    // Act: a manual execution naming only the parent.
    const run = await runPipeline(parentId, {
      pipeline: 'layered',
      imageDefinition: 'web',
      parent: { pipeline: 'base' },
    });

    // Assess: the build.
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output?.build).toMatchObject({
      pipeline: 'layered',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'web',
      sourceImageId: parentId,
      parent: { pipeline: 'base', channel: 'stable', imageId: parentId },
    });
    // Assess: the child AMI, promoted on its own pipeline; the parent untouched.
    const childId = (run.output?.candidate as { imageId?: string } | undefined)?.imageId;
    expect(childId).toBeDefined();
    const [child] = await imagesOf('layered');
    expect(child?.ImageId).toBe(childId);
    expect(tagsOf(child ?? {})).toMatchObject({
      'factory:channel': 'stable',
      'factory:source-ami': parentId,
      'factory:parent-image': parentId,
      'factory:base-image': 'ubuntu-24.04',
    });
    const [parent] = await imagesOf('base');
    expect(tagsOf(parent ?? {})).toMatchObject({
      'factory:channel': 'stable',
      'factory:base-image': 'ubuntu-24.04',
    });
    expect(tagsOf(parent ?? {})).not.toHaveProperty('factory:parent-image');
  });

  it.each([
    [
      'a parent channel that names no image',
      'never',
      undefined,
      /parent never\/stable: the channel names no image/,
    ],
    [
      'an image of another pipeline',
      'rb',
      async () => (await imagesOf('layered'))[0]?.ImageId as string,
      /is not an image of pipeline rb \(factory:pipeline=layered\)/,
    ],
    [
      "another account's image carrying our tags (DescribeImages Owners=self hides it)",
      'impostor',
      async () => IMPOSTOR_IMAGE.imageId,
      new RegExp(`the channel names ${IMPOSTOR_IMAGE.imageId}, which is not an image of this account`),
    ],
  ])(
    'stops at PrepareBuild on %s: nothing baked, nothing launched',
    async (_case, parentPipeline, pointTo, cause) => {
      // Prepare: the parent's channel pointer (none for `never`).
      if (pointTo) {
        await aws.ssm.send(
          new PutParameterCommand({
            Name: `${PREFIX}/${parentPipeline}/stable`,
            Value: await pointTo(),
            Type: 'String',
            Overwrite: true,
          }),
        );
      }
      const before = (await ownImages(aws.ec2)).length;

      // Act
      const run = await runPipeline(IMPOSTOR_IMAGE.imageId, {
        pipeline: 'web2',
        imageDefinition: 'web',
        parent: { pipeline: parentPipeline },
      });

      // Assess
      expect(run.status).toBe('FAILED');
      expect(run.visited).not.toContain('BakeImage');
      expect(run.visited).not.toContain('LaunchTestInstance');
      expect(run.error?.Error).toBe('UnusableParentImage');
      expect(String(run.error?.Cause)).toMatch(cause);
      expect((await ownImages(aws.ec2)).length).toBe(before);
    },
  );
});
