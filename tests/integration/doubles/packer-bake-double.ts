/**
 * PackerBakeDouble: stands in for the `BakeImage` state (Packer on Fargate, `ecs:runTask.sync`).
 *
 * It leaves in moto what a successful Packer amazon-ebs build leaves in EC2: one registered AMI and
 * its EBS snapshot, both carrying the ownership tags of docs/design.md ("Tags") with
 * `factory:channel=candidate`. moto's `RegisterImage` ignores `TagSpecifications` and block device
 * mappings (MOTO-GAPS.md), so the image and the snapshot moto created for it are tagged with
 * `CreateTags`, as Packer itself does for `tags` / `snapshot_tags`.
 *
 * It returns what the ASL keeps of the stopped ECS task (`ResultSelector`: `taskArn`, `lastStatus`).
 */
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  type EC2Client,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import { TAG } from '#commons/core/tags.js';

/** The part of `$.build` Packer receives through the container environment. */
export interface BakeBuild {
  buildId: string;
  pipeline: string;
  /** Empty when unknown (the Fargate task is not told the execution name). */
  executionName: string;
  sourceImageId: string;
  sourceImageName: string;
  commit?: string;
}

export interface BakedImage {
  imageId: string;
  snapshotIds: string[];
  tags: Record<string, string>;
}

/** The tags Packer puts on the AMI and its snapshots (`packer/` → design.md "Tags"). */
export const packerTags = (build: BakeBuild, buildDate: Date): Record<string, string> => ({
  [TAG.pipeline]: build.pipeline,
  [TAG.buildId]: build.buildId,
  [TAG.channel]: 'candidate',
  [TAG.sourceAmi]: build.sourceImageId,
  [TAG.sourceAmiName]: build.sourceImageName,
  [TAG.commit]: build.commit ?? 'none',
  [TAG.buildDate]: buildDate.toISOString(),
  ...(build.executionName ? { [TAG.execution]: build.executionName } : {}),
  [TAG.name]: `${build.pipeline}-${build.buildId}`,
});

/** Register one AMI in moto the way Packer would, tagged for `build`. */
export const bakeImageLikePacker = async (
  ec2: EC2Client,
  build: BakeBuild,
  now: Date = new Date(),
): Promise<BakedImage> => {
  const { ImageId } = await ec2.send(
    new RegisterImageCommand({
      Name: `${build.pipeline}-${build.buildId}`,
      Description: `image factory ${build.pipeline} build ${build.buildId}`,
      Architecture: 'x86_64',
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

/** The container environment the ASL's `BakeImage` passes to Packer (`ContainerOverrides[0].Environment`). */
export const bakeEnvironment = (runTaskParameters: unknown): Record<string, string> => {
  const overrides = (
    runTaskParameters as {
      Overrides?: { ContainerOverrides?: Array<{ Environment?: Array<{ Name?: string; Value?: unknown }> }> };
    }
  ).Overrides;
  const environment = overrides?.ContainerOverrides?.[0]?.Environment ?? [];
  return Object.fromEntries(environment.map((entry) => [String(entry.Name), String(entry.Value ?? '')]));
};

/**
 * A `BakeImage` Task handler for aws-local-stepfunctions. It receives what Step Functions would
 * send to `ecs:runTask.sync` (the state's `Parameters`), reads the Packer container environment
 * from it (`PIPELINE`, `BUILD_ID`, `SOURCE_AMI_ID`, `EXECUTION_NAME`, `BUILD_JSON` with the optional
 * commit), looks the source AMI up like Packer's `source_ami` does, bakes like Packer — or, with
 * `registersImage: false`, stops "successfully" without registering anything — and returns the
 * stopped task (DescribeTasks shape) that the ASL's `ResultSelector` reads.
 */
export const packerBakeDouble =
  (ec2: EC2Client, options: { registersImage?: boolean } = {}) =>
  async (runTaskParameters: unknown): Promise<{ TaskArn: string; LastStatus: string; StopCode: string }> => {
    const env = bakeEnvironment(runTaskParameters);
    for (const name of ['PIPELINE', 'BUILD_ID', 'SOURCE_AMI_ID'] as const) {
      if (!env[name]) throw new Error(`BakeImage double: container environment lacks ${name}`);
    }
    const build = JSON.parse(env.BUILD_JSON ?? '{}') as { commit?: string; sourceImageName?: string };
    const source = (await ec2.send(new DescribeImagesCommand({ ImageIds: [env.SOURCE_AMI_ID as string] })))
      .Images?.[0];
    if (options.registersImage !== false) {
      await bakeImageLikePacker(ec2, {
        pipeline: env.PIPELINE as string,
        buildId: env.BUILD_ID as string,
        sourceImageId: env.SOURCE_AMI_ID as string,
        sourceImageName: source?.Name ?? build.sourceImageName ?? '',
        executionName: env.EXECUTION_NAME ?? '',
        ...(build.commit ? { commit: build.commit } : {}),
      });
    }
    return {
      TaskArn: `arn:aws:ecs:us-east-1:123456789012:task/image-factory/${crypto.randomUUID().replace(/-/g, '')}`,
      LastStatus: 'STOPPED',
      StopCode: 'EssentialContainerExited',
    };
  };
