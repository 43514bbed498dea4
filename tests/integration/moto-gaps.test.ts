/**
 * The moto gaps of MOTO-GAPS.md, asserted: raw moto first (so that a moto upgrade that closes a gap
 * fails here and tells us to drop the workaround), then the MotoGapProxy double that fills it.
 */
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DeregisterImageCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  GetParametersCommand,
  PutParameterCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { SSMIncidentsClient, StartIncidentCommand } from '@aws-sdk/client-ssm-incidents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { ANY_INSTANCE } from './doubles/moto-gap-proxy.js';
import { FOREIGN_IMAGE, PUBLISHED, vendorImages } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  existingSnapshotIds,
  findImage,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
} from './harness.js';
import { DUMMY_AWS_ENV, TEST_REGION } from './moto.js';

let aws: AwsSide;
let viaProxy: { ec2: EC2Client; ssm: SSMClient; incidents: SSMIncidentsClient; sfn: SFNClient };

const config = (endpoint: string) => ({
  endpoint,
  region: TEST_REGION,
  maxAttempts: 1,
  credentials: {
    accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
    secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
  },
});

const errorOf = async (
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: Error) => error,
  );

beforeAll(async () => {
  aws = await startAwsSide();
  viaProxy = {
    ec2: new EC2Client(config(aws.proxy.endpoint)),
    ssm: new SSMClient(config(aws.proxy.endpoint)),
    incidents: new SSMIncidentsClient(config(aws.proxy.endpoint)),
    sfn: new SFNClient(config(aws.proxy.endpoint)),
  };
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  viaProxy.ec2.destroy();
  viaProxy.ssm.destroy();
  viaProxy.incidents.destroy();
  viaProxy.sfn.destroy();
  await aws.close();
});

const launch = async (imageId: string): Promise<string> => {
  const { Instances } = await aws.ec2.send(
    new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.small' }),
  );
  return Instances?.[0]?.InstanceId ?? '';
};

describe('moto server set-up', () => {
  it('serves our image catalog only, with the seeded owners and creation dates', async () => {
    // Act
    const { Images } = await aws.ec2.send(new DescribeImagesCommand({}));

    // Assess
    const byId = new Map((Images ?? []).map((image) => [image.ImageId, image]));
    expect(byId.size).toBe(vendorImages().length);
    expect(byId.get(PUBLISHED['ubuntu-24.04'].current.imageId)?.OwnerId).toBe('099720109477');
    expect(byId.get(FOREIGN_IMAGE.imageId)?.OwnerId).toBe(FOREIGN_IMAGE.ownerId);
    expect(byId.get(PUBLISHED.al2023.previous.imageId)?.CreationDate).toBe(
      PUBLISHED.al2023.previous.createdAt,
    );
  });

  it('refuses to launch an unknown AMI (MOTO_ENABLE_AMI_VALIDATION)', async () => {
    const error = await errorOf(launch('ami-0000000000000dead'));
    expect(error.name).toBe('InvalidAMIID.NotFound');
  });
});

describe('EC2 gaps', () => {
  it('RegisterImage ignores TagSpecifications and block device mappings', async () => {
    // Act
    const { ImageId } = await aws.ec2.send(
      new RegisterImageCommand({
        Name: 'gap-register',
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 8, VolumeType: 'gp3' } }],
        TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'factory:pipeline', Value: 'web' }] }],
      }),
    );

    // Assess
    const image = await findImage(aws.ec2, ImageId ?? '');
    expect(image?.Tags ?? []).toEqual([]);
    expect(image?.BlockDeviceMappings?.[0]?.Ebs?.VolumeType).toBe('standard');
  });

  it('DeregisterImage ignores DeleteAssociatedSnapshots in moto; the double deletes and reports them', async () => {
    // Prepare
    const register = async (name: string) => {
      const { ImageId } = await aws.ec2.send(new RegisterImageCommand({ Name: name }));
      const image = await findImage(aws.ec2, ImageId ?? '');
      return { imageId: ImageId ?? '', snapshotId: image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '' };
    };
    const raw = await register('gap-raw');
    const doubled = await register('gap-doubled');

    // Act
    const rawReply = await aws.ec2.send(
      new DeregisterImageCommand({ ImageId: raw.imageId, DeleteAssociatedSnapshots: true }),
    );
    const doubledReply = await viaProxy.ec2.send(
      new DeregisterImageCommand({ ImageId: doubled.imageId, DeleteAssociatedSnapshots: true }),
    );

    // Assess
    const snapshots = await existingSnapshotIds(aws.ec2);
    expect(rawReply.DeleteSnapshotResults ?? []).toEqual([]);
    expect(snapshots.has(raw.snapshotId)).toBe(true);
    expect(doubledReply.DeleteSnapshotResults).toEqual([
      { SnapshotId: doubled.snapshotId, ReturnCode: 'success' },
    ]);
    expect(snapshots.has(doubled.snapshotId)).toBe(false);
  });

  it('DescribeImages with ImageIds and Owners=self returns other owners in moto; the double keeps only our own', async () => {
    // Prepare: one image of this account, one of a foreign account.
    const { ImageId: ownId = '' } = await aws.ec2.send(new RegisterImageCommand({ Name: 'gap-own' }));
    const request = { ImageIds: [ownId, FOREIGN_IMAGE.imageId], Owners: ['self'] };

    // Act
    const raw = await aws.ec2.send(new DescribeImagesCommand(request));
    const doubled = await viaProxy.ec2.send(new DescribeImagesCommand(request));
    const foreignOnly = await viaProxy.ec2.send(
      new DescribeImagesCommand({ ImageIds: [FOREIGN_IMAGE.imageId], Owners: ['self'] }),
    );

    // Assess
    expect((raw.Images ?? []).map((image) => image.ImageId).sort()).toEqual(
      [ownId, FOREIGN_IMAGE.imageId].sort(),
    );
    expect((doubled.Images ?? []).map((image) => image.ImageId)).toEqual([ownId]);
    expect(foreignOnly.Images ?? []).toEqual([]);
  });

  it('DescribeImages gives images moto registered root device type "standard"; the double says ebs', async () => {
    // Prepare
    const { ImageId = '' } = await aws.ec2.send(new RegisterImageCommand({ Name: 'gap-root-device' }));

    // Act
    const raw = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId] }))).Images?.[0];
    const doubled = (await viaProxy.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId] }))).Images?.[0];

    // Assess
    expect(raw?.RootDeviceType).toBe('standard');
    expect(raw?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId).toMatch(/^snap-/);
    expect(doubled?.RootDeviceType).toBe('ebs');
  });

  it('DescribeImageReferences is not implemented in moto; the double lists live instances of the images', async () => {
    // Prepare
    const used = PUBLISHED['debian-12'].current.imageId;
    const unused = PUBLISHED['debian-12'].previous.imageId;
    await launch(used);

    // Act
    const rawError = await errorOf(aws.ec2.send(new DescribeImageReferencesCommand({ ImageIds: [used] })));
    const reply = await viaProxy.ec2.send(
      new DescribeImageReferencesCommand({
        ImageIds: [used, unused],
        ResourceTypes: [{ ResourceType: 'ec2:Instance' }],
      }),
    );

    // Assess
    expect(rawError.$metadata?.httpStatusCode).toBe(500);
    expect(reply.ImageReferences?.map((r) => [r.ImageId, r.ResourceType])).toEqual([[used, 'ec2:Instance']]);
  });

  it('DeleteSecurityGroup deletes a group an instance uses in moto; the double answers DependencyViolation', async () => {
    // Prepare
    const group = async (name: string) =>
      (await aws.ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: 'gap' }))).GroupId ??
      '';
    const inUse = async (groupId: string) =>
      (
        await aws.ec2.send(
          new RunInstancesCommand({
            ImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
            MinCount: 1,
            MaxCount: 1,
            InstanceType: 't3.small',
            SecurityGroupIds: [groupId],
          }),
        )
      ).Instances?.[0]?.InstanceId ?? '';
    const raw = await group('gap-raw');
    await inUse(raw);
    const doubled = await group('gap-doubled');
    const instanceId = await inUse(doubled);

    // Act / Assess: moto deletes it; the double refuses until the instance is terminated
    await aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId: raw }));
    const refused = await errorOf(viaProxy.ec2.send(new DeleteSecurityGroupCommand({ GroupId: doubled })));
    expect(refused.name).toBe('DependencyViolation');
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await viaProxy.ec2.send(new DeleteSecurityGroupCommand({ GroupId: doubled }));
  });

  it('RunInstances keeps the ClientToken but is not idempotent on it', async () => {
    // Prepare
    const run = () =>
      aws.ec2.send(
        new RunInstancesCommand({
          ImageId: PUBLISHED.al2023.current.imageId,
          MinCount: 1,
          MaxCount: 1,
          ClientToken: 'same-token',
          IamInstanceProfile: { Name: stackSettings().TEST_INSTANCE_PROFILE },
        }),
      );

    // Act
    const first = (await run()).Instances?.[0]?.InstanceId;
    const second = (await run()).Instances?.[0]?.InstanceId;

    // Assess
    expect(second).not.toBe(first);
    const { Reservations } = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [first ?? ''] }));
    expect(Reservations?.[0]?.Instances?.[0]?.ClientToken).toBe('same-token');
  });
});

describe('SSM gaps', () => {
  it('reserves /aws/ names in moto; the publisher double serves published public parameters', async () => {
    // Prepare
    const name = BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64;
    const putError = await errorOf(
      aws.ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: 'ami-0123456789abcdef0',
          Type: 'String',
          Overwrite: true,
        }),
      ),
    );
    const missing = await errorOf(aws.ssm.send(new GetParameterCommand({ Name: name })));
    aws.proxy.publicParameters.publish(name, PUBLISHED['ubuntu-24.04'].previous.imageId);
    aws.proxy.publicParameters.publish(name, PUBLISHED['ubuntu-24.04'].current.imageId);
    await aws.ssm.send(new PutParameterCommand({ Name: '/image-factory/own', Value: 'x', Type: 'String' }));

    // Act
    const single = await viaProxy.ssm.send(new GetParameterCommand({ Name: name }));
    const several = await viaProxy.ssm.send(
      new GetParametersCommand({ Names: [name, '/image-factory/own', '/image-factory/absent'] }),
    );

    // Assess
    expect(putError.name).toBe('AccessDeniedException');
    expect(missing.name).toBe('ParameterNotFound');
    expect(single.Parameter).toMatchObject({ Value: PUBLISHED['ubuntu-24.04'].current.imageId, Version: 2 });
    expect(several.Parameters?.map((p) => p.Value)).toEqual([PUBLISHED['ubuntu-24.04'].current.imageId, 'x']);
    expect(several.InvalidParameters).toEqual(['/image-factory/absent']);
  });

  it('DescribeInstanceInformation is not implemented in moto; the agent double reports Online', async () => {
    // Prepare
    const instanceId = await launch(PUBLISHED['ubuntu-22.04'].current.imageId);
    aws.proxy.ssmAgent.goesOnline(instanceId, 1);
    const describe = () =>
      viaProxy.ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
      );

    // Act
    const rawError = await errorOf(aws.ssm.send(new DescribeInstanceInformationCommand({})));
    const first = await describe();
    const second = await describe();

    // Assess
    expect(rawError.$metadata?.httpStatusCode).toBe(500);
    expect(first.InstanceInformationList?.map((i) => [i.InstanceId, i.PingStatus])).toEqual([
      [instanceId, 'ConnectionLost'],
    ]);
    expect(second.InstanceInformationList?.map((i) => [i.InstanceId, i.PingStatus])).toEqual([
      [instanceId, 'Online'],
    ]);
  });

  it('GetCommandInvocation is always an empty Success in moto; the agent double plays a scripted run', async () => {
    // Prepare
    const instanceId = await launch(PUBLISHED['ubuntu-22.04'].current.imageId);
    const { Command } = await aws.ssm.send(
      new SendCommandCommand({
        InstanceIds: [instanceId],
        DocumentName: 'AWS-RunShellScript',
        Parameters: { commands: ['probe'] },
      }),
    );
    const commandId = Command?.CommandId ?? '';
    const read = (client: SSMClient) =>
      client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    const raw = await read(aws.ssm);
    aws.proxy.ssmAgent.scriptCommand(ANY_INSTANCE, [
      { status: 'NotYet' },
      { status: 'InProgress' },
      { status: 'Success', stdout: '{"check":"sshd","ok":true,"detail":"running"}\n' },
    ]);

    // Act
    const notYet = await errorOf(read(viaProxy.ssm));
    const running = await read(viaProxy.ssm);
    const done = await read(viaProxy.ssm);

    // Assess
    expect(raw).toMatchObject({ Status: 'Success', ResponseCode: 0, StandardOutputContent: '' });
    expect(notYet.name).toBe('InvocationDoesNotExist');
    expect(running).toMatchObject({ Status: 'InProgress', ResponseCode: -1 });
    expect(done).toMatchObject({ Status: 'Success', ResponseCode: 0 });
    expect(done.StandardOutputContent).toContain('"sshd"');
  });
});

describe('Step Functions and Incident Manager', () => {
  it('StartExecution: same name and input while running is idempotent, a different input is refused', async () => {
    // Prepare
    const { stateMachineArn } = await aws.sfn.send(
      new CreateStateMachineCommand({
        name: 'gap-machine',
        definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 60, End: true } } }),
        roleArn: 'arn:aws:iam::123456789012:role/sfn',
      }),
    );
    const start = (input: string) =>
      aws.sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'gap-run', input }));

    // Act
    const first = await start('{"a":1}');
    const again = await start('{"a":1}');
    const different = await errorOf(start('{"a":2}'));

    // Assess
    expect(again.executionArn).toBe(first.executionArn);
    expect(different.name).toBe('ExecutionAlreadyExists');
    const { executions } = await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(executions).toHaveLength(1);
  });

  it('DescribeExecution never reports FAILED in moto; the double reports the end a test gave', async () => {
    // Prepare
    const { stateMachineArn } = await aws.sfn.send(
      new CreateStateMachineCommand({
        name: 'gap-outcome',
        definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 60, End: true } } }),
        roleArn: 'arn:aws:iam::123456789012:role/sfn',
      }),
    );
    const { executionArn } = await aws.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: 'gap-failed' }),
    );
    const stopDate = new Date('2026-11-21T12:00:00.000Z');

    // Act
    aws.proxy.executions.end(executionArn ?? '', 'FAILED', stopDate);
    const raw = await aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const doubled = await viaProxy.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const unknown = await errorOf(
      viaProxy.sfn.send(new DescribeExecutionCommand({ executionArn: `${executionArn}-never` })),
    );

    // Assess
    expect(raw.status).toBe('RUNNING');
    expect(doubled).toMatchObject({ status: 'FAILED', stopDate, name: 'gap-failed' });
    expect(unknown.name).toBe('ExecutionDoesNotExist');
  });

  it('has no Incident Manager backend in moto; the double records StartIncident, idempotent on clientToken', async () => {
    // Prepare
    const rawIncidents = new SSMIncidentsClient(config(aws.motoEndpoint));
    const request = {
      responsePlanArn: 'arn:aws:ssm-incidents::123456789012:response-plan/test',
      title: 't',
      clientToken: 'run-1',
    };

    // Act
    const rawError = await errorOf(rawIncidents.send(new StartIncidentCommand(request)));
    const first = await viaProxy.incidents.send(new StartIncidentCommand(request));
    const again = await viaProxy.incidents.send(new StartIncidentCommand(request));
    rawIncidents.destroy();

    // Assess
    expect(rawError.$metadata?.httpStatusCode).toBe(500);
    expect(again.incidentRecordArn).toBe(first.incidentRecordArn);
    expect(aws.proxy.incidents.started).toHaveLength(1);
  });
});

describe('EventBridge', () => {
  it('PutEvents: moto puts an aws.-prefixed source and a detail that is no object; the double fails those entries as AWS does', async () => {
    // Prepare
    const entries = [
      { Source: 'image-factory', DetailType: 'Image Promoted', Detail: '{"pipeline":"web"}' },
      { Source: 'aws.ec2', DetailType: 'Image Promoted', Detail: '{"pipeline":"web"}' },
      { Source: 'image-factory', DetailType: 'Image Promoted', Detail: '["not", "an", "object"]' },
      { Source: 'image-factory', DetailType: 'Build Failed', Detail: '{"pipeline":"web"}' },
    ];
    const raw = new EventBridgeClient(config(aws.motoEndpoint));
    const proxied = new EventBridgeClient(config(aws.proxy.endpoint));

    // Act
    const rawReply = await raw.send(new PutEventsCommand({ Entries: entries }));
    const reply = await proxied.send(new PutEventsCommand({ Entries: entries }));
    raw.destroy();
    proxied.destroy();

    // Assess
    expect(rawReply.FailedEntryCount).toBe(0);
    expect(reply.FailedEntryCount).toBe(2);
    expect(reply.Entries?.map((entry) => entry.ErrorCode ?? (entry.EventId ? 'put' : 'none'))).toEqual([
      'put',
      'NotAuthorizedForSourceException',
      'MalformedDetail',
      'put',
    ]);
  });
});

describe('EC2 Auto Scaling', () => {
  it('StartInstanceRefresh / DescribeInstanceRefreshes are not implemented in moto; the double starts one refresh per group at a time', async () => {
    // Prepare: a group in moto (its tag filter is moto's own and exact: used as is)
    const raw = new AutoScalingClient(config(aws.motoEndpoint));
    const proxied = new AutoScalingClient(config(aws.proxy.endpoint));
    await aws.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'gap-template',
        LaunchTemplateData: { ImageId: PUBLISHED['ubuntu-24.04'].current.imageId, InstanceType: 't3.micro' },
      }),
    );
    await raw.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'gap-group',
        LaunchTemplate: { LaunchTemplateName: 'gap-template', Version: '$Default' },
        MinSize: 0,
        MaxSize: 1,
        AvailabilityZones: [`${TEST_REGION}a`],
        Tags: [{ Key: 'factory:channel', Value: 'web/stable', PropagateAtLaunch: false }],
      }),
    );
    const byTag = (value: string) =>
      raw.send(
        new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag:factory:channel', Values: [value] }] }),
      );

    // Act
    const rawStart = await errorOf(
      raw.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'gap-group' })),
    );
    const rawDescribe = await errorOf(
      raw.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'gap-group' })),
    );
    const started = await proxied.send(
      new StartInstanceRefreshCommand({ AutoScalingGroupName: 'gap-group' }),
    );
    const second = await errorOf(
      proxied.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'gap-group' })),
    );
    const described = await proxied.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'gap-group' }),
    );
    const exact = await byTag('web/stable');
    const wildcard = await byTag('web/*');
    raw.destroy();
    proxied.destroy();

    // Assess
    expect(rawStart.$metadata?.httpStatusCode).toBe(500);
    expect(rawDescribe.$metadata?.httpStatusCode).toBe(500);
    expect(started.InstanceRefreshId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second).toMatchObject({ name: 'InstanceRefreshInProgressFault' });
    expect(described.InstanceRefreshes?.map((refresh) => refresh.InstanceRefreshId)).toEqual([
      started.InstanceRefreshId,
    ]);
    expect(exact.AutoScalingGroups?.map((group) => group.AutoScalingGroupName)).toEqual(['gap-group']);
    expect(wildcard.AutoScalingGroups).toEqual([]);
  });
});
