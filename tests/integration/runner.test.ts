/**
 * The real Fargate runner and the real Packer `amazon-ebs` build against the emulator.
 *
 * What runs unchanged: `packer/runner/entrypoint.sh` (as the image's ENTRYPOINT would run it),
 * Packer with the project's amazon plugin (`.cache/bin/packer`, `.cache/packer-plugins`), the
 * templates, playbooks and probe of this repository, fetched by the runner with git over HTTPS from a
 * real git server at the commit PrepareBuild resolved, with the token it reads from the stack's
 * SecureString.
 *
 * Its environment is derived, not written: the task definition's `Environment` from the packaged
 * template, plus the container overrides of the ASL's `BakeImage` state evaluated by
 * aws-local-stepfunctions on the real PrepareBuild output. The test adds only what Fargate and
 * the image provide (PATH, HOME, credentials) and what the emulator needs:
 * `HTTPS_PROXY` + CA (the AwsEndpointInterceptor, since Packer's SDK cannot take an endpoint URL),
 * `GIT_SSL_CAINFO` (the git server's test certificate), `AWS_POLL_DELAY_SECONDS=1` (Packer's
 * documented waiter setting, to poll moto quickly) and `PKR_VAR_aws_communicator=none`.
 *
 * Every AWS call of the run goes through the MotoGapProxy as the Packer task role: validated
 * against the service model and evaluated against the role's policies.
 *
 * What this exercises: the runner's source fetch and checks (the build's image definition must
 * exist at that commit and reaches Packer as `image_definition`), `packer init`/`validate`/`build`, and
 * the amazon-ebs builder's whole AWS conversation (source AMI lookup, temporary key pair and
 * security group, RunInstances with the builder instance profile and tags, stop, CreateImage,
 * ModifyImageAttribute, tagging of the image and its snapshot, cleanup), the manifest; and a layered
 * build (PrepareBuild with `parent`): Packer launches from the parent's AMI (`source_ami`, no
 * filter lookup) and tags the child with `factory:parent-image` and the inherited base image.
 * What it does not: moto runs no machine, so there is no SSH, no Session Manager tunnel (and no
 * session-manager-plugin), no user data, and no provisioner (Ansible, probe install, cleanup,
 * validation): the AMI holds nothing of the image definition. The provisioners are one build
 * block for both sources (packer/build.pkr.hcl); they run in the local qemu bake (tests/e2e).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
} from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { loadDefinition } from '#statemachines/definition.js';
import { collectRun } from '../statemachine/harness.js';
import {
  type AwsEndpointInterceptor,
  startAwsEndpointInterceptor,
} from './doubles/aws-endpoint-interceptor.js';
import { bakeEnvironment } from './doubles/packer-bake-double.js';
import { PUBLISHED } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  importHandler,
  invoke,
  type LambdaHandler,
  packagedStack,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';
import { REPO_ROOT } from './iam/stack.js';
import { DUMMY_AWS_ENV, TEST_REGION } from './moto.js';

const SOURCE = PUBLISHED['debian-12'].current;
const BAKE_TIMEOUT_MS = 900_000;

let aws: AwsSide;
let interceptor: AwsEndpointInterceptor;
let workDir: string;
let build: Record<string, string>;
let prepareBuild: LambdaHandler<Record<string, string>>;

/** The container environment of the stack's Packer task definition. */
const taskDefinitionEnvironment = (): Record<string, string> => {
  const definition = packagedStack().properties('PackerTaskDefinition') as {
    ContainerDefinitions: Array<{ Environment: Array<{ Name: string; Value: string }> }>;
  };
  return Object.fromEntries(
    (definition.ContainerDefinitions[0]?.Environment ?? []).map((entry) => [entry.Name, entry.Value]),
  );
};

/** The RunTask parameters the ASL's BakeImage state sends for `build` (evaluated by the ASL engine). */
const bakeImageParameters = async (state: Record<string, unknown>): Promise<unknown> => {
  const definition = loadDefinition();
  const {
    Next: _next,
    Catch: _catch,
    Retry: _retry,
    ...bake
  } = definition.States.BakeImage as unknown as Record<string, unknown>;
  let sent: unknown;
  const single = new StateMachine({
    StartAt: 'BakeImage',
    States: { BakeImage: { ...bake, End: true } },
  } as never);
  const run = single.run(state as never, {
    overrides: {
      taskResourceLocalHandlers: {
        BakeImage: async (parameters: unknown) => {
          sent = parameters;
          return { TaskArn: 'arn:aws:ecs:us-east-1:123456789012:task/x/y', LastStatus: 'STOPPED' };
        },
      },
    },
  });
  await collectRun(run);
  return sent;
};

/** What the task's container gets: image and Fargate basics, the emulator's needs, the task. */
const taskEnvironment = (overrides: Record<string, string>): Record<string, string> => ({
  // The image (packer/Dockerfile) and Fargate.
  PATH: `${join(REPO_ROOT, '.cache/bin')}:${join(REPO_ROOT, '.cache/venv/bin')}:/usr/local/bin:/usr/bin:/bin`,
  HOME: workDir,
  TMPDIR: workDir,
  PACKER_PLUGIN_PATH: join(REPO_ROOT, '.cache/packer-plugins'),
  PACKER_CACHE_DIR: join(workDir, 'packer-cache'),
  CHECKPOINT_DISABLE: '1',
  AWS_ACCESS_KEY_ID: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
  AWS_SESSION_TOKEN: DUMMY_AWS_ENV.AWS_SESSION_TOKEN,
  // The emulator.
  HTTPS_PROXY: interceptor.proxyUrl,
  https_proxy: interceptor.proxyUrl,
  NO_PROXY: '127.0.0.1',
  no_proxy: '127.0.0.1',
  SSL_CERT_FILE: interceptor.caPath,
  AWS_CA_BUNDLE: interceptor.caPath,
  GIT_SSL_CAINFO: inject('testTls').certPath,
  AWS_POLL_DELAY_SECONDS: '1',
  PKR_VAR_aws_communicator: 'none',
  // The task: its definition, then the state machine's overrides (ECS applies them last).
  ...taskDefinitionEnvironment(),
  ...overrides,
});

/** Run the runner to completion as the Packer task role; returns its exit status and output. */
const runRunner = (environment: Record<string, string>): Promise<{ status: number | null; output: string }> =>
  aws.proxy.runAs('PackerTaskRole', async () => {
    const child = spawn('bash', [join(REPO_ROOT, 'packer/runner/entrypoint.sh')], {
      cwd: workDir,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const status = await new Promise<number | null>((done) => child.on('close', done));
    return { status, output };
  });

beforeAll(async () => {
  aws = await startAwsSide();
  workDir = mkdtempSync(join(tmpdir(), 'factory-runner-'));
  interceptor = await startAwsEndpointInterceptor(aws.proxy.endpoint, {
    directory: workDir,
    region: TEST_REGION,
  });
  aws.proxy.publicParameters.publish(BASE_IMAGES['debian-12'].ssmParameters.x86_64, SOURCE.imageId);
  // The source: this repository's templates, roles, image definitions and probe, committed to the git server.
  aws.git.commit('main', {
    packer: { copyFrom: join(REPO_ROOT, 'packer') },
    ansible: { copyFrom: join(REPO_ROOT, 'ansible') },
    probe: { copyFrom: join(REPO_ROOT, 'probe') },
  });
  prepareBuild = await importHandler('prepare-build');
  build = await invoke(prepareBuild, {
    input: { pipeline: 'baked', baseImage: 'debian-12', imageDefinition: 'base' },
    execution: {
      Id: 'arn:aws:states:us-east-1:123456789012:execution:golden-image-factory-dev:runner-test',
      Name: 'runner-test',
      StartTime: new Date().toISOString(),
    },
  });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await interceptor?.close();
  await aws?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the real runner and Packer amazon-ebs against the emulator', () => {
  it(
    'bakes the AMI at the resolved commit: registered, tagged, attributes set, no temporary resource left',
    async () => {
      // Prepare: the environment the task would get.
      const overrides = bakeEnvironment(await bakeImageParameters({ build }));
      const environment = taskEnvironment(overrides);
      expect(overrides).toMatchObject({ BUILD_ID: build.buildId, SOURCE_AMI_ID: SOURCE.imageId });
      expect(build.imageDefinition).toBe('base');
      expect(environment.BUILDER_INSTANCE_PROFILE).toBe(packagedStack().ref('BuilderInstanceProfile'));

      // Act
      const { status, output } = await runRunner(environment);

      // Assess: the run.
      expect(status, output.slice(-6000)).toBe(0);
      expect(output).toContain(`source from ${build.repository} at ${build.commit}`);
      // The build's image definition reached Packer (the manifest's custom_data echoes the -var).
      expect(output).toMatch(/"image_definition": "base"/);
      expect(interceptor.hosts.every((host) => host.endsWith('.amazonaws.com'))).toBe(true);
      // Assess: the AMI.
      const images = (await aws.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [];
      const image = images.find((i) => tagsOf(i)['factory:build-id'] === build.buildId);
      expect(image, output.slice(-3000)).toBeDefined();
      expect(tagsOf(image ?? {})).toMatchObject({
        'factory:pipeline': 'baked',
        'factory:channel': 'candidate',
        'factory:commit': build.commit,
        'factory:source-ami': SOURCE.imageId,
        'factory:execution': 'runner-test',
      });
      // Attributes: moto accepts ModifyImageAttribute but stores only launch permissions
      // (MOTO-GAPS.md), so the requests Packer made are what is checked: accepted and allowed.
      const modified = aws.proxy.operations.filter(
        (op) => op.operation === 'ModifyImageAttribute' && op.input.ImageId === image?.ImageId,
      );
      expect(modified.map((op) => [op.role, op.answeredBy])).toEqual(
        modified.map(() => ['PackerTaskRole', 'moto']),
      );
      expect(
        modified.map((op) => op.input['Description.Value'] ?? op.input['ImdsSupport.Value']).sort(),
      ).toEqual([`baked golden image, build ${build.buildId}, commit ${build.commit}`, 'v2.0'].sort());
      const snapshotIds = (image?.BlockDeviceMappings ?? []).flatMap((m) =>
        m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [],
      );
      expect(snapshotIds.length).toBeGreaterThan(0);
      const snapshots =
        (await aws.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots ?? [];
      for (const snapshot of snapshots) expect(tagsOf(snapshot)['factory:build-id']).toBe(build.buildId);
      // Assess: nothing temporary left.
      const instances = ((await aws.ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap(
        (r) => r.Instances ?? [],
      );
      const builders = instances.filter((i) => tagsOf(i)['factory:build-id'] === build.buildId);
      expect(builders.length).toBe(1);
      expect(builders[0]?.State?.Name).toBe('terminated');
      // The builder ran with the stack's instance profile (a terminated instance no longer shows it).
      const launches = aws.proxy.operations.filter(
        (op) => op.operation === 'RunInstances' && op.role === 'PackerTaskRole',
      );
      expect(launches.map((op) => op.input['IamInstanceProfile.Name'])).toEqual([
        packagedStack().ref('BuilderInstanceProfile'),
      ]);
      const keyPairs = (await aws.ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? [];
      expect(keyPairs.filter((k) => k.KeyName?.startsWith('packer_'))).toEqual([]);
      const groups = (await aws.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
      expect(groups.filter((g) => tagsOf(g)['factory:build-id'] === build.buildId)).toEqual([]);
      // Assess: every call was evaluated as the Packer task role and allowed (aws.close() fails otherwise).
      const packerCalls = aws.proxy.operations.filter((op) => op.role === 'PackerTaskRole');
      console.log(
        `emulator bake: exit ${status}, ${packerCalls.length} AWS calls as PackerTaskRole ` +
          `(${[...new Set(packerCalls.map((op) => `${op.service}:${op.operation}`))].sort().join(', ')})`,
      );
    },
    BAKE_TIMEOUT_MS,
  );

  it(
    'launches the builder in the stack builder subnet and security group (no temporary group)',
    async () => {
      // Prepare: the task definition of a stack packaged with builderSubnetId / builderSecurityGroupId.
      const { Subnets } = await aws.ec2.send(new DescribeSubnetsCommand({}));
      const subnet = Subnets?.[0];
      const { GroupId = '' } = await aws.ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: 'builder',
          Description: 'builder',
          VpcId: subnet?.VpcId,
        }),
      );
      aws.git.commit('main', { 'README.md': 'second build\n' }, 'second');
      const next = await invoke(prepareBuild, {
        pipeline: 'baked',
        baseImage: 'debian-12',
        imageDefinition: 'web',
      });
      const overrides = bakeEnvironment(await bakeImageParameters({ build: next }));
      const before = aws.proxy.operations.length;

      // Act
      const { status, output } = await runRunner({
        ...taskEnvironment(overrides),
        BUILDER_SUBNET_ID: subnet?.SubnetId ?? '',
        BUILDER_SECURITY_GROUP_ID: GroupId,
      });

      // Assess
      expect(status, output.slice(-6000)).toBe(0);
      expect(output).toMatch(/"image_definition": "web"/);
      const calls = aws.proxy.operations.slice(before).filter((op) => op.role === 'PackerTaskRole');
      const launch = calls.find((op) => op.operation === 'RunInstances');
      expect(launch?.input).toMatchObject({ SubnetId: subnet?.SubnetId, 'SecurityGroupId.1': GroupId });
      expect(calls.map((op) => op.operation)).not.toContain('CreateSecurityGroup');
    },
    BAKE_TIMEOUT_MS,
  );

  it(
    "bakes a layered build from the parent channel's AMI: source_ami is the parent, the AMI names its lineage",
    async () => {
      // Prepare: the first test's AMI (pipeline baked, base image debian-12) promoted to baked/stable.
      const images = (await aws.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [];
      const parentId = images.find((i) => tagsOf(i)['factory:build-id'] === build.buildId)?.ImageId ?? '';
      expect(tagsOf(images.find((i) => i.ImageId === parentId) ?? {})['factory:base-image']).toBe(
        'debian-12',
      );
      await aws.ec2.send(
        new CreateTagsCommand({ Resources: [parentId], Tags: [{ Key: 'factory:channel', Value: 'stable' }] }),
      );
      await aws.ssm.send(
        new PutParameterCommand({
          Name: `${stackSettings().CHANNEL_PARAMETER_PREFIX}/baked/stable`,
          Value: parentId,
          Type: 'String',
        }),
      );
      const child = await invoke(prepareBuild, {
        pipeline: 'layered',
        imageDefinition: 'web',
        parent: { pipeline: 'baked' },
      });
      const overrides = bakeEnvironment(await bakeImageParameters({ build: child }));
      expect(overrides).toMatchObject({ SOURCE_AMI_ID: parentId, BASE_IMAGE: 'debian-12' });
      const before = aws.proxy.operations.length;

      // Act
      const { status, output } = await runRunner(taskEnvironment(overrides));

      // Assess: Packer launched the builder from the parent AMI (no source_ami_filter lookup).
      expect(status, output.slice(-6000)).toBe(0);
      expect(output).toContain('(layered on its parent)');
      expect(output).toMatch(new RegExp(`"parent_image": "${parentId}"`));
      const calls = aws.proxy.operations.slice(before).filter((op) => op.role === 'PackerTaskRole');
      expect(calls.find((op) => op.operation === 'RunInstances')?.input).toMatchObject({ ImageId: parentId });
      const describes = calls.filter((op) => op.operation === 'DescribeImages');
      expect(describes.some((op) => op.input['ImageId.1'] === parentId)).toBe(true);
      // No source_ami_filter lookup (its name filter is the base image's vendor pattern, locals.pkr.hcl).
      expect(describes.flatMap((op) => Object.values(op.input))).not.toContain('debian-12-amd64-*');
      // Assess: the child AMI carries its lineage and the inherited base image.
      const after = (await aws.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [];
      const baked = after.find((i) => tagsOf(i)['factory:build-id'] === child.buildId);
      expect(tagsOf(baked ?? {})).toMatchObject({
        'factory:pipeline': 'layered',
        'factory:source-ami': parentId,
        'factory:parent-image': parentId,
        'factory:base-image': 'debian-12',
      });
    },
    BAKE_TIMEOUT_MS,
  );
});
