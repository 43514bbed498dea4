/**
 * PackerBakeDouble: stands in for the `BakeImage` state (the Packer runner on Fargate,
 * `ecs:runTask.sync`).
 *
 * It honours the same contract as the real runner:
 * - input: the container environment of `packer/runner/entrypoint.sh` (`BUILD_ID`, `PIPELINE`,
 *   `SOURCE_AMI_ID` required; `COMMIT`, `EXECUTION_NAME` (default `manual`), `BASE_IMAGE`
 *   (default `debian-12`), `BUILD_DATE` optional; `BUILD_JSON` `commit` and `parent.imageId`, which
 *   must be `SOURCE_AMI_ID`), taken from the `ContainerOverrides` the ASL sends — and nothing else, so a value the
 *   ASL does not pass in the runner's variables does not reach the image here either;
 * - output in EC2: one AMI and its EBS snapshot, both tagged like `packer/locals.pkr.hcl`
 *   `aws_tags` (docs/design.md "Tags", `factory:channel=candidate`), named
 *   `<build id>-<yyyymmddhhmmss>`;
 * - result: the stopped ECS task (DescribeTasks shape) that the ASL's `ResultSelector` reads.
 *
 * moto's `RegisterImage` ignores `TagSpecifications` and block device mappings (MOTO-GAPS.md), so
 * the image and the snapshot moto created for it are tagged with `CreateTags`, as Packer itself
 * does for `tags` / `snapshot_tags`.
 */

import { readFileSync } from 'node:fs';
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  type EC2Client,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { TAG } from '#commons/core/tags.js';
import { stackSettings } from '../harness.js';

/** What the runner passes to Packer (`-var` values). */
export interface BakeBuild {
  /** `STAGE` of the task definition (default: the packaged stack's stage). */
  stage?: string;
  buildId: string;
  pipeline: string;
  /** `EXECUTION_NAME`; the runner defaults it to `manual`. */
  executionName?: string;
  sourceImageId: string;
  /** Resolved by Packer from the source AMI (`{{ .SourceAMIName }}`). */
  sourceImageName: string;
  /** `COMMIT`; empty when the build is not tied to a commit. */
  commit?: string;
  /** `BASE_IMAGE` (the runner's default `debian-12`): the `factory:base-image` tag. */
  baseImage?: string;
  /** `BUILD_JSON.parent.imageId` of a layered build: the `factory:parent-image` tag. */
  parentImage?: string;
  /** `BUILD_JSON.architecture` (the runner's default `x86_64`): the AMI's and its `factory:architecture` tag. */
  architecture?: string;
}

export interface BakedImage {
  imageId: string;
  snapshotIds: string[];
  tags: Record<string, string>;
}

/** `local.image_name`: `<build id>-<UTC yyyymmddhhmmss>`. */
export const packerImageName = (buildId: string, buildDate: Date): string =>
  `${buildId}-${buildDate.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;

/**
 * What the AMI and its snapshots end up with: `local.aws_owner_tags` (from CreateImage's tag
 * specifications) and `local.aws_tags` (`tags` / `snapshot_tags`) of `packer/locals.pkr.hcl`.
 */
export const packerTags = (build: BakeBuild, buildDate: Date): Record<string, string> => ({
  [TAG.name]: packerImageName(build.buildId, buildDate),
  [TAG.stage]: build.stage ?? stackSettings().STAGE,
  [TAG.pipeline]: build.pipeline,
  [TAG.buildId]: build.buildId,
  [TAG.architecture]: build.architecture ?? 'x86_64',
  [TAG.channel]: 'candidate',
  [TAG.sourceAmi]: build.sourceImageId,
  [TAG.sourceAmiName]: build.sourceImageName,
  [TAG.baseImage]: build.baseImage ?? 'debian-12',
  [TAG.commit]: build.commit ?? '',
  [TAG.buildDate]: buildDate.toISOString(),
  [TAG.execution]: build.executionName || 'manual',
  ...(build.parentImage ? { [TAG.parentImage]: build.parentImage } : {}),
});

/**
 * `local.aws_run_tags` of `packer/locals.pkr.hcl`: the builder instance and its volumes, and (by
 * packer-plugin-amazon v1.3.4's `StepSecurityGroup` / `StepKeyPair`) the temporary security group
 * and key pair.
 */
export const packerRunTags = (build: BakeBuild, buildDate: Date): Record<string, string> => ({
  ...packerTags(build, buildDate),
  [TAG.name]: `packer-${build.buildId}`,
  [TAG.role]: 'build-instance',
});

/** Register one AMI in moto the way Packer would, tagged for `build`. */
export const bakeImageLikePacker = async (
  ec2: EC2Client,
  build: BakeBuild,
  now: Date = new Date(),
): Promise<BakedImage> => {
  const { ImageId } = await ec2.send(
    new RegisterImageCommand({
      Name: packerImageName(build.buildId, now),
      Description: `${build.pipeline} golden image, build ${build.buildId}, commit ${build.commit || 'none'}`,
      Architecture: (build.architecture ?? 'x86_64') as 'x86_64' | 'arm64',
      RootDeviceName: '/dev/xvda',
      VirtualizationType: 'hvm',
      EnaSupport: true,
      ImdsSupport: 'v2.0',
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 8, VolumeType: 'gp3', Encrypted: true } },
      ],
    }),
  );
  if (!ImageId) throw new Error('RegisterImage returned no image id');
  const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId] }))).Images?.[0];
  const snapshotIds = (image?.BlockDeviceMappings ?? [])
    .map((mapping) => mapping.Ebs?.SnapshotId)
    .filter((id): id is string => id !== undefined);
  const tags = packerTags(build, now);
  await ec2.send(
    new CreateTagsCommand({
      Resources: [ImageId, ...snapshotIds],
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  return { imageId: ImageId, snapshotIds, tags };
};

/**
 * Bake like Packer, then describe the AMI the way FindCandidateImage reports it (`$.candidate`).
 * @returns the build and its candidate `{ imageId, name, createdAt, snapshotIds }`.
 */
export const bakeCandidate = async <B extends BakeBuild>(ec2: EC2Client, build: B) => {
  const baked = await bakeImageLikePacker(ec2, build);
  const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [baked.imageId] }))).Images?.[0];
  return {
    build,
    candidate: {
      imageId: baked.imageId,
      name: image?.Name ?? '',
      createdAt: image?.CreationDate ?? '',
      snapshotIds: baked.snapshotIds,
    },
  };
};

/** The container environment the ASL's `BakeImage` passes to the runner (`ContainerOverrides[0].Environment`). */
export const bakeEnvironment = (runTaskParameters: unknown): Record<string, string> => {
  const overrides = (
    runTaskParameters as {
      Overrides?: { ContainerOverrides?: Array<{ Environment?: Array<{ Name?: string; Value?: unknown }> }> };
    }
  ).Overrides;
  const environment = overrides?.ContainerOverrides?.[0]?.Environment ?? [];
  return Object.fromEntries(environment.map((entry) => [String(entry.Name), String(entry.Value ?? '')]));
};

/** The commit the runner bakes: `COMMIT`, else `BUILD_JSON.commit` (packer/runner/entrypoint.sh). */
const commitOf = (env: Record<string, string>): string | undefined => {
  if (env.COMMIT) return env.COMMIT;
  if (!env.BUILD_JSON) return undefined;
  const commit = (JSON.parse(env.BUILD_JSON) as { commit?: unknown }).commit;
  return typeof commit === 'string' ? commit : undefined;
};

/** The parent image of a layered build: `BUILD_JSON.parent.imageId` (packer/runner/entrypoint.sh). */
const parentImageOf = (env: Record<string, string>): string | undefined => {
  if (!env.BUILD_JSON) return undefined;
  const parent = (JSON.parse(env.BUILD_JSON) as { parent?: { imageId?: unknown } }).parent;
  return typeof parent?.imageId === 'string' ? parent.imageId : undefined;
};

/** A real syft CycloneDX fixture (`tests/events/sbom/`). */
export const sbomFixture = (name: 'syft-debian12-before.cdx.json' | 'syft-debian12-after.cdx.json'): string =>
  readFileSync(new URL(`../../events/sbom/${name}`, import.meta.url), 'utf8');

/** Where the runner puts a build's SBOM and the `factory:sbom` value it tags the AMI with. */
export const sbomUri = (bucket: string, pipeline: string, buildId: string): string =>
  `s3://${bucket}/sboms/${pipeline}/${buildId}.cdx.json`;

/**
 * What the runner does after Packer (the lead's `packer/runner/entrypoint.sh`): uploads the bake's
 * SBOM to `s3://<SBOM_BUCKET>/sboms/<pipeline>/<buildId>.cdx.json` and tags the AMI `factory:sbom`.
 * Straight to moto, like the image registration (the Packer task role's S3 rights are checked in
 * iam-negative.test.ts).
 */
export const uploadSbomLikeRunner = async (
  ec2: EC2Client,
  sbom: { s3: S3Client; bucket: string; document: string },
  image: { imageId: string; pipeline: string; buildId: string },
): Promise<string> => {
  const uri = sbomUri(sbom.bucket, image.pipeline, image.buildId);
  await sbom.s3.send(
    new PutObjectCommand({
      Bucket: sbom.bucket,
      Key: uri.slice(`s3://${sbom.bucket}/`.length),
      Body: sbom.document,
      ContentType: 'application/vnd.cyclonedx+json',
    }),
  );
  await ec2.send(
    new CreateTagsCommand({ Resources: [image.imageId], Tags: [{ Key: TAG.sbom, Value: uri }] }),
  );
  return uri;
};

/**
 * A `BakeImage` Task handler for aws-local-stepfunctions. It receives what Step Functions would send
 * to `ecs:runTask.sync` (the state's `Parameters`), reads the runner's environment from it, looks
 * the source AMI up like Packer's `source_ami` does, and bakes like Packer — or, with
 * `registersImage: false`, stops "successfully" without registering anything.
 */
export const packerBakeDouble =
  (
    ec2: EC2Client,
    options: {
      registersImage?: boolean;
      /** The SBOM the runner uploads and tags (none: the bake produced no SBOM). */
      sbom?: { s3: S3Client; bucket: string; document: string } | undefined;
    } = {},
  ) =>
  async (runTaskParameters: unknown): Promise<{ TaskArn: string; LastStatus: string; StopCode: string }> => {
    const env = bakeEnvironment(runTaskParameters);
    for (const name of ['BUILD_ID', 'PIPELINE', 'SOURCE_AMI_ID'] as const) {
      // The runner dies with exit code 2 ("<NAME> is required"): the task fails.
      if (!env[name]) throw new Error(`BakeImage double: ${name} is required`);
    }
    const sourceImageId = env.SOURCE_AMI_ID as string;
    const parentImage = parentImageOf(env);
    // The runner dies ("the parent image … is not the source image …"): the task fails.
    if (parentImage !== undefined && parentImage !== sourceImageId)
      throw new Error(
        `BakeImage double: the parent image ${parentImage} is not the source image ${sourceImageId}`,
      );
    const source = (await ec2.send(new DescribeImagesCommand({ ImageIds: [sourceImageId] }))).Images?.[0];
    if (options.registersImage !== false) {
      const baked = await bakeImageLikePacker(
        ec2,
        {
          ...(env.STAGE ? { stage: env.STAGE } : {}),
          pipeline: env.PIPELINE as string,
          buildId: env.BUILD_ID as string,
          sourceImageId,
          sourceImageName: source?.Name ?? '',
          executionName: env.EXECUTION_NAME || 'manual',
          ...(commitOf(env) ? { commit: commitOf(env) } : {}),
          baseImage: env.BASE_IMAGE || 'debian-12',
          ...(parentImage ? { parentImage } : {}),
        },
        env.BUILD_DATE ? new Date(env.BUILD_DATE) : new Date(),
      );
      if (options.sbom)
        await uploadSbomLikeRunner(ec2, options.sbom, {
          imageId: baked.imageId,
          pipeline: env.PIPELINE as string,
          buildId: env.BUILD_ID as string,
        });
    }
    return {
      TaskArn: `arn:aws:ecs:us-east-1:123456789012:task/image-factory/${crypto.randomUUID().replace(/-/g, '')}`,
      LastStatus: 'STOPPED',
      StopCode: 'EssentialContainerExited',
    };
  };
