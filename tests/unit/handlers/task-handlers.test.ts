import { CodeCommitClient, GetBranchCommand } from '@aws-sdk/client-codecommit';
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateTagsCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  PutParameterCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import {
  ListIncidentRecordsCommand,
  SSMIncidentsClient,
  StartIncidentCommand,
} from '@aws-sdk/client-ssm-incidents';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as applyRetention } from '../../../functions/apply-retention.js';
import { handler as checkInstanceOnline } from '../../../functions/check-instance-online.js';
import { handler as checkProbeResult } from '../../../functions/check-probe-result.js';
import { handler as cleanupAfterFailure } from '../../../functions/cleanup-after-failure.js';
import { handler as findCandidateImage } from '../../../functions/find-candidate-image.js';
import { handler as launchTestInstance } from '../../../functions/launch-test-instance.js';
import { handler as openIncident } from '../../../functions/open-incident.js';
import { handler as prepareBuild } from '../../../functions/prepare-build.js';
import { handler as probeTestInstance } from '../../../functions/probe-test-instance.js';
import { handler as promoteImage } from '../../../functions/promote-image.js';
import { handler as terminateTestInstance } from '../../../functions/terminate-test-instance.js';
import { mockAws } from '../helpers/aws.js';
import { context, loadEvent } from '../helpers/lambda.js';

// The handler's configuration; the runtime's (region, Powertools) is tests/unit/setup.ts's.
vi.hoisted(() => {
  Object.assign(process.env, {
    TEST_INSTANCE_PROFILE: 'image-factory-test-instance',
    TEST_SUBNET_ID: 'subnet-0123456789abcdef0',
    TEST_SECURITY_GROUP_IDS: 'sg-0123456789abcdef0, sg-0123456789abcdef1',
    PROBE_COMMAND: '/usr/local/libexec/image-factory/probe.sh --backend aws',
    PROBE_TIMEOUT_SECONDS: '900',
    ONLINE_MAX_ATTEMPTS: '5',
    PROBE_MAX_ATTEMPTS: '5',
    CHANNEL_PARAMETER_PREFIX: '/image-factory/channels',
    RETENTION_DRY_RUN: 'false',
    SOURCE_REPOSITORY: 'codecommit::eu-west-1://image-definitions',
    SOURCE_BRANCH: 'main',
    STAGE: 'dev',
    PROMOTION_LEDGER_TABLE: 'golden-image-factory-dev-promotion-ledger',
  });
});

const ec2 = mockAws(EC2Client);
const ssm = mockAws(SSMClient);
const incidents = mockAws(SSMIncidentsClient);
const codecommit = mockAws(CodeCommitClient);
const dynamodb = mockAws(DynamoDBClient);
const eventBridge = mockAws(EventBridgeClient);
const HEAD = 'feedfacefeedfacefeedfacefeedfacefeedface';

beforeEach(() => {
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  codecommit
    .on(GetBranchCommand, { repositoryName: 'image-definitions', branchName: 'main' })
    .resolves({ branch: { branchName: 'main', commitId: HEAD } });
});

type State = ReturnType<typeof loadEvent> & Record<string, unknown>;
const state = (variant = 'probe-running'): State => loadEvent<State>('stepfunctions', variant);
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();
const ec2Image = (id: string, ageDays: number, tags: Record<string, string> = {}) => ({
  ImageId: id,
  Name: `web-${id}`,
  CreationDate: ago(ageDays),
  State: 'available' as const,
  Tags: Object.entries({ 'factory:stage': 'dev', 'factory:pipeline': 'web', ...tags }).map(
    ([Key, Value]) => ({ Key, Value }),
  ),
  BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: id.replace('ami-', 'snap-') } }],
});
const awsError = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} });

describe('prepare-build', () => {
  it('resolves the public parameter, checks the owner and returns the build', async () => {
    ssm
      .on(GetParameterCommand, {
        Name: '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
      })
      .resolves({
        Parameter: { Value: 'ami-0aaaaaaaaaaaaaaaa' },
      });
    ec2.on(DescribeImagesCommand, { ImageIds: ['ami-0aaaaaaaaaaaaaaaa'] }).resolves({
      Images: [
        {
          ImageId: 'ami-0aaaaaaaaaaaaaaaa',
          Name: 'ubuntu-noble',
          OwnerId: '099720109477',
          CreationDate: '2026-06-01T08:00:00.000Z',
        },
      ],
    });
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: { sequence: { N: '42' } } });
    const build = await prepareBuild({ pipeline: 'web', baseImage: 'ubuntu-24.04' }, context());
    expect(build).toMatchObject({
      pipeline: 'web',
      sourceImageId: 'ami-0aaaaaaaaaaaaaaaa',
      probeTimeoutSeconds: 900,
      // No repository in the input: the default one at its branch head, resolved now.
      repository: 'codecommit::eu-west-1://image-definitions',
      commit: HEAD,
      order: { sourceCreatedAt: '2026-06-01T08:00:00.000Z', sequence: 42 },
    });
    // The stage's build sequence of the pipeline, counted atomically in the ledger table.
    expect(dynamodb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'golden-image-factory-dev-promotion-ledger',
      Key: { pk: { S: 'dev#web#@sequence' } },
      UpdateExpression: 'ADD #sequence :one',
      ExpressionAttributeNames: { '#sequence': 'sequence' },
      ExpressionAttributeValues: { ':one': { N: '1' } },
      ReturnValues: 'UPDATED_NEW',
    });
  });

  it('refuses a short commit: the runner checks out exactly the recorded 40-hex id', async () => {
    await expect(
      prepareBuild({ pipeline: 'web', baseImage: 'ubuntu-24.04', commit: 'feedface' }, context()),
    ).rejects.toMatchObject({ name: 'InvalidInput', message: expect.stringMatching(/40-character/) });
  });

  it('fails with InvalidInput naming the problem', async () => {
    await expect(prepareBuild({ pipeline: 'web', baseImage: 'windows' }, context())).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringMatching(/input\.baseImage: baseImage is required and must be one of/),
    });
  });

  it('fails with ForeignBaseImage when the AMI owner is not the publisher', async () => {
    ec2
      .on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-0bbbbbbbbbbbbbbbb', Name: 'x', OwnerId: '666666666666' }] });
    await expect(
      prepareBuild(
        { pipeline: 'web', baseImage: 'ubuntu-24.04', sourceImageId: 'ami-0bbbbbbbbbbbbbbbb' },
        context(),
      ),
    ).rejects.toMatchObject({ name: 'ForeignBaseImage' });
  });

  it('lets AWS errors reach Step Functions', async () => {
    ssm.on(GetParameterCommand).rejects(awsError('ThrottlingException'));
    await expect(
      prepareBuild({ pipeline: 'web', baseImage: 'ubuntu-24.04' }, context()),
    ).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('find-candidate-image', () => {
  it('filters DescribeImages on our tags and pages through results', async () => {
    ec2
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [], NextToken: 'page-2' })
      .resolvesOnce({
        Images: [ec2Image('ami-0ccccccccccccccc1', 0, { 'factory:build-id': 'web-0123456789ab' })],
      });
    const candidate = await findCandidateImage(state(), context());
    expect(candidate).toEqual({
      imageId: 'ami-0ccccccccccccccc1',
      name: 'web-ami-0ccccccccccccccc1',
      createdAt: expect.any(String),
      snapshotIds: ['snap-0ccccccccccccccc1'],
    });
    const calls = ec2.commandCalls(DescribeImagesCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input).toMatchObject({
      Owners: ['self'],
      Filters: [
        { Name: 'state', Values: ['available'] },
        { Name: 'tag:factory:pipeline', Values: ['web'] },
        { Name: 'tag:factory:build-id', Values: ['web-0123456789ab'] },
        { Name: 'tag:factory:stage', Values: ['dev'] },
      ],
    });
    expect(calls[1]?.args[0].input.NextToken).toBe('page-2');
  });

  it('throws CandidateNotFound when nothing carries the build id', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    await expect(findCandidateImage(state(), context())).rejects.toMatchObject({ name: 'CandidateNotFound' });
  });

  it('rejects a state without build', async () => {
    const input = state();
    delete input.build;
    await expect(findCandidateImage(input, context())).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('build'),
    });
  });
});

describe('launch-test-instance', () => {
  it('launches with IMDSv2, the instance profile, tags on instance and volume and a client token', async () => {
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0123456789abcdef0' }] });
    await expect(launchTestInstance(state(), context())).resolves.toEqual({
      instanceId: 'i-0123456789abcdef0',
    });
    const input = ec2.commandCalls(RunInstancesCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      ImageId: 'ami-0ccccccccccccccc1',
      InstanceType: 't3.small',
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: { Name: 'image-factory-test-instance' },
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      SubnetId: 'subnet-0123456789abcdef0',
      SecurityGroupIds: ['sg-0123456789abcdef0', 'sg-0123456789abcdef1'],
    });
    expect(input?.ClientToken).toMatch(/^[0-9a-f]{64}$/);
    expect(input?.TagSpecifications?.map((spec) => spec.ResourceType)).toEqual(['instance', 'volume']);
    expect(input?.TagSpecifications?.[0]?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'factory:pipeline', Value: 'web' },
        { Key: 'factory:build-id', Value: 'web-0123456789ab' },
        { Key: 'factory:role', Value: 'test-instance' },
      ]),
    );
  });

  it('sends the same client token when the task is retried', async () => {
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0123456789abcdef0' }] });
    await launchTestInstance(state(), context());
    await launchTestInstance(state(), context());
    const [first, second] = ec2
      .commandCalls(RunInstancesCommand)
      .map((call) => call.args[0].input.ClientToken);
    expect(second).toBe(first);
  });

  it('propagates capacity errors', async () => {
    ec2.on(RunInstancesCommand).rejects(awsError('InsufficientInstanceCapacity'));
    await expect(launchTestInstance(state(), context())).rejects.toMatchObject({
      name: 'InsufficientInstanceCapacity',
    });
  });
});

describe('check-instance-online', () => {
  it('reports Online from SSM', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0', PingStatus: 'Online' }],
    });
    const input = state();
    delete input.online;
    await expect(checkInstanceOnline(input, context())).resolves.toEqual({ online: true, attempt: 1 });
  });

  it('throws InstanceNeverOnline at ONLINE_MAX_ATTEMPTS', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const input = { ...state(), online: { online: false, attempt: 4 } };
    await expect(checkInstanceOnline(input, context())).rejects.toMatchObject({
      name: 'InstanceNeverOnline',
    });
  });
});

describe('probe-test-instance and check-probe-result', () => {
  it('starts AWS-RunShellScript with the probe command and timeout', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-42' } });
    await expect(probeTestInstance(state(), context())).resolves.toEqual({
      commandId: 'cmd-42',
      instanceId: 'i-0123456789abcdef0',
    });
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: ['i-0123456789abcdef0'],
      Parameters: {
        commands: ['/usr/local/libexec/image-factory/probe.sh --backend aws'],
        executionTimeout: ['600'],
      },
    });
  });

  it('returns the passed verdict', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      ResponseCode: 0,
      StandardOutputContent: '{"check":"sshd-hardened","ok":true,"detail":""}\n',
    });
    await expect(checkProbeResult(state(), context())).resolves.toMatchObject({
      status: 'Success',
      attempt: 3,
      passed: true,
    });
  });

  it('keeps polling while the command runs (Delayed counts as InProgress)', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Delayed', ResponseCode: -1 });
    await expect(checkProbeResult(state(), context())).resolves.toMatchObject({
      status: 'InProgress',
      attempt: 3,
      passed: false,
    });
  });

  it('throws ProbeFailed when a check failed', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      ResponseCode: 1,
      StandardOutputContent: '{"check":"sshd-hardened","ok":false,"detail":"PasswordAuthentication yes"}\n',
    });
    await expect(checkProbeResult(state(), context())).rejects.toMatchObject({ name: 'ProbeFailed' });
  });

  it('maps SSM InvocationDoesNotExist to our named error for the ASL Retry', async () => {
    ssm.on(GetCommandInvocationCommand).rejects(awsError('InvocationDoesNotExist'));
    await expect(checkProbeResult(state(), context())).rejects.toMatchObject({
      name: 'InvocationDoesNotExist',
    });
  });
});

describe('terminate-test-instance', () => {
  it('terminates the instance', async () => {
    ec2.on(TerminateInstancesCommand).resolves({});
    await expect(terminateTestInstance(state(), context())).resolves.toEqual({
      instanceIds: ['i-0123456789abcdef0'],
    });
  });

  it('treats an already-gone instance as terminated', async () => {
    ec2.on(TerminateInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    await expect(terminateTestInstance(state(), context())).resolves.toEqual({ instanceIds: [] });
  });
});

describe('promote-image', () => {
  it('records the build order, puts the SSM parameter, then retags the channel from its history', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        ec2Image('ami-0ccccccccccccccc1', 0, { 'factory:channel': 'candidate' }),
        ec2Image('ami-0bbbbbbbbbbbbbbb1', 10, {
          'factory:channel': 'stable',
          'factory:build-order': '2026-05-01T08:00:00.000Z#000000000004',
        }),
      ],
    });
    ec2.on(CreateTagsCommand).resolves({});
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/channels/web/stable' })
      .resolves({ Parameter: { Value: 'ami-0bbbbbbbbbbbbbbb1', Version: 1 } });
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    // The written version, read back once SSM has validated the aws:ec2:image value.
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/channels/web/stable:2' })
      .resolves({ Parameter: { Value: 'ami-0ccccccccccccccc1', Version: 2 } });
    ssm.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Value: 'ami-0bbbbbbbbbbbbbbb1', Version: 1 },
        { Value: 'ami-0ccccccccccccccc1', Version: 2 },
      ],
    });
    await expect(promoteImage(state(), context())).resolves.toEqual({
      outcome: 'promoted',
      channel: 'stable',
      imageId: 'ami-0ccccccccccccccc1',
      previousImageId: 'ami-0bbbbbbbbbbbbbbb1',
      currentImageId: 'ami-0ccccccccccccccc1',
      reason: 'newer than current image ami-0bbbbbbbbbbbbbbb1',
      parameterName: '/image-factory/channels/web/stable',
      parameterVersion: 2,
      // No distribution verdict: the stack's region (AWS_REGION) alone.
      regions: [
        {
          region: 'eu-west-1',
          outcome: 'promoted',
          imageId: 'ami-0ccccccccccccccc1',
          previousImageId: 'ami-0bbbbbbbbbbbbbbb1',
          currentImageId: 'ami-0ccccccccccccccc1',
          parameterName: '/image-factory/channels/web/stable',
          parameterVersion: 2,
        },
      ],
    });
    expect(ec2.commandCalls(CreateTagsCommand).map((call) => call.args[0].input)).toEqual([
      {
        Resources: ['ami-0ccccccccccccccc1'],
        Tags: [{ Key: 'factory:build-order', Value: '2026-06-01T08:00:00.000Z#000000000005' }],
      },
      { Resources: ['ami-0ccccccccccccccc1'], Tags: [{ Key: 'factory:channel', Value: 'stable' }] },
      { Resources: ['ami-0bbbbbbbbbbbbbbb1'], Tags: [{ Key: 'factory:channel', Value: 'previous-stable' }] },
    ]);
    expect(ssm.commandCalls(PutParameterCommand)[0]?.args[0].input).toMatchObject({
      Name: '/image-factory/channels/web/stable',
      Value: 'ami-0ccccccccccccccc1',
      Type: 'String',
      DataType: 'aws:ec2:image',
      Overwrite: true,
    });
    // Image Promoted, after the pointer moved, on the default bus.
    const [put] = eventBridge.commandCalls(PutEventsCommand);
    expect(put?.args[0].input.Entries?.[0]).toMatchObject({
      DetailType: 'Image Promoted',
      EventBusName: 'default',
    });
    expect(JSON.parse(put?.args[0].input.Entries?.[0]?.Detail ?? '{}')).toMatchObject({
      stage: 'dev',
      imageId: 'ami-0ccccccccccccccc1',
      previousImageId: 'ami-0bbbbbbbbbbbbbbb1',
      parameterVersion: 2,
    });
  });

  it('propagates a failed tag write without moving the pointer', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [ec2Image('ami-0ccccccccccccccc1', 0)] });
    ssm.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    ec2.on(CreateTagsCommand).rejects(awsError('UnauthorizedOperation'));
    await expect(promoteImage(state(), context())).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});

describe('apply-retention', () => {
  const reference = (imageId: string, type: 'ec2:Instance' | 'ssm:Parameter', arn: string) => ({
    ImageId: imageId,
    ResourceType: type,
    Arn: arn,
  });

  it('reads every channel pointer, checks references and sharing, deregisters with snapshots', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        ec2Image('ami-00000000000000001', 1, { 'factory:channel': 'stable' }),
        ec2Image('ami-00000000000000002', 2),
        ec2Image('ami-00000000000000003', 3),
        ec2Image('ami-00000000000000004', 40),
        ec2Image('ami-00000000000000005', 41),
        ec2Image('ami-00000000000000006', 42),
        ec2Image('ami-00000000000000009', 43),
        ec2Image('ami-0000000000000000a', 44),
        ec2Image('ami-0000000000000000b', 45),
      ],
    });
    ec2
      .on(DescribeImageReferencesCommand, { ResourceTypes: [{ ResourceType: 'ssm:Parameter' }] })
      .resolves({
        ImageReferences: [
          reference('ami-00000000000000009', 'ssm:Parameter', 'arn:aws:ssm:eu-west-1:1:parameter/team/ami'),
        ],
      })
      .on(DescribeImageReferencesCommand, {
        ResourceTypes: [{ ResourceType: 'ec2:Instance' }, { ResourceType: 'ec2:LaunchTemplate' }],
      })
      .resolves({
        ImageReferences: [
          reference('ami-00000000000000005', 'ec2:Instance', 'arn:aws:ec2:eu-west-1:1:instance/i-1'),
        ],
      });
    ec2
      .on(DescribeImageAttributeCommand)
      .resolves({ LaunchPermissions: [] })
      .on(DescribeImageAttributeCommand, { ImageId: 'ami-0000000000000000a' })
      .resolves({ LaunchPermissions: [{ UserId: '444455556666' }] });
    ssm.on(GetParametersByPathCommand).resolves({
      Parameters: [{ Name: '/image-factory/channels/web/beta', Value: 'ami-0000000000000000b', Version: 2 }],
    });
    ssm
      .on(GetParameterHistoryCommand)
      .resolves({ Parameters: [] })
      .on(GetParameterHistoryCommand, { Name: '/image-factory/channels/web/stable' })
      .resolves({ Parameters: [{ Value: 'ami-00000000000000001', Version: 3 }] })
      .on(GetParameterHistoryCommand, { Name: '/image-factory/channels/web/beta' })
      .resolves({
        Parameters: [
          { Value: 'ami-0000000000000000b', Version: 1 },
          { Value: 'ami-00000000000000003', Version: 2 },
        ],
      });
    ec2
      .on(DeregisterImageCommand, { ImageId: 'ami-00000000000000004' })
      .resolves({
        Return: true,
        DeleteSnapshotResults: [{ SnapshotId: 'snap-00000000000000004', ReturnCode: 'success' }],
      })
      .on(DeregisterImageCommand, { ImageId: 'ami-00000000000000006' })
      .resolves({
        Return: true,
        DeleteSnapshotResults: [{ SnapshotId: 'snap-00000000000000006', ReturnCode: 'missing-permissions' }],
      });

    const retention = await applyRetention(state('promoted'), context());

    expect(retention.outcomes.map((o) => [o.imageId, o.outcome, o.reason])).toEqual([
      ['ami-00000000000000001', 'kept', 'current'],
      ['ami-00000000000000002', 'kept', 'newest'],
      ['ami-00000000000000003', 'kept', 'current'],
      ['ami-00000000000000004', 'deregistered', 'expired'],
      ['ami-00000000000000005', 'kept', 'in-use'],
      ['ami-00000000000000006', 'deregistered', 'expired'],
      ['ami-00000000000000009', 'kept', 'referenced'],
      ['ami-0000000000000000a', 'kept', 'shared'],
      ['ami-0000000000000000b', 'kept', 'previous'],
    ]);
    expect(retention).toMatchObject({ outcome: 'complete', counts: { deregistered: 2, kept: 7 } });
    expect(retention.outcomes[5]?.snapshots).toEqual([
      { snapshotId: 'snap-00000000000000006', outcome: 'failed', detail: 'missing-permissions' },
    ]);
    expect(ec2.commandCalls(DeregisterImageCommand).map((call) => call.args[0].input)).toEqual([
      { ImageId: 'ami-00000000000000006', DeleteAssociatedSnapshots: true },
      { ImageId: 'ami-00000000000000004', DeleteAssociatedSnapshots: true },
    ]);
    expect(ssm.commandCalls(GetParametersByPathCommand)[0]?.args[0].input).toMatchObject({
      Path: '/image-factory/channels/web',
      Recursive: false,
    });
    expect(ec2.commandCalls(DescribeImageAttributeCommand)[0]?.args[0].input.Attribute).toBe(
      'launchPermission',
    );
  });

  it('reports a failed deregistration, counts a vanished image as done, continues with the others', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        ec2Image('ami-00000000000000001', 1),
        ec2Image('ami-00000000000000002', 2),
        ec2Image('ami-00000000000000003', 3),
        ec2Image('ami-00000000000000007', 90),
        ec2Image('ami-00000000000000008', 91),
        ec2Image('ami-0000000000000000c', 92),
      ],
    });
    ec2
      .on(DescribeImagesCommand, { ImageIds: ['ami-0000000000000000c'], Owners: ['self'] })
      .resolves({ Images: [] })
      .on(DescribeImagesCommand, { ImageIds: ['ami-00000000000000007'], Owners: ['self'] })
      .resolves({ Images: [ec2Image('ami-00000000000000007', 90)] });
    ec2.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: [] });
    ssm.on(GetParameterHistoryCommand).rejects(awsError('ParameterNotFound'));
    ec2
      .on(DeregisterImageCommand, { ImageId: 'ami-00000000000000007' })
      .rejects(awsError('InvalidAMIID.Unavailable', 'image is busy'))
      .on(DeregisterImageCommand, { ImageId: 'ami-0000000000000000c' })
      .rejects(awsError('InvalidAMIID.NotFound', 'no such image'))
      .on(DeregisterImageCommand, { ImageId: 'ami-00000000000000008' })
      .resolves({ Return: true, DeleteSnapshotResults: [] });
    const input = state('promoted');
    delete input.promotion;

    const retention = await applyRetention(input, context());

    expect(retention.outcomes.slice(3)).toEqual([
      {
        imageId: 'ami-00000000000000007',
        action: 'deregister',
        reason: 'expired',
        outcome: 'failed',
        snapshots: [],
        error: 'InvalidAMIID.Unavailable: image is busy',
      },
      {
        imageId: 'ami-00000000000000008',
        action: 'deregister',
        reason: 'expired',
        outcome: 'deregistered',
        snapshots: [],
      },
      {
        imageId: 'ami-0000000000000000c',
        action: 'deregister',
        reason: 'expired',
        outcome: 'gone',
        snapshots: [],
      },
    ]);
    expect(retention.outcome).toBe('partial');
  });

  it('fails the task when the catalog cannot be read', async () => {
    ec2.on(DescribeImagesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(applyRetention(state('promoted'), context())).rejects.toMatchObject({
      name: 'RequestLimitExceeded',
    });
  });

  it('fails the task, deleting nothing, when a channel pointer cannot be read', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [ec2Image('ami-00000000000000007', 90)] });
    ssm.on(GetParametersByPathCommand).rejects(awsError('AccessDeniedException'));
    await expect(applyRetention(state('promoted'), context())).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    expect(ec2.commandCalls(DeregisterImageCommand)).toHaveLength(0);
  });
});

describe('cleanup-after-failure', () => {
  it('terminates tagged test instances and deregisters the failed candidate', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: 'i-0123456789abcdef0' }, { InstanceId: 'i-0fedcba9876543210' }] },
      ],
    });
    ec2.on(TerminateInstancesCommand).resolves({});
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        ec2Image('ami-0ccccccccccccccc1', 0, {
          'factory:channel': 'candidate',
          'factory:build-id': 'web-0123456789ab',
        }),
      ],
    });
    ec2.on(DeregisterImageCommand).resolves({
      Return: true,
      DeleteSnapshotResults: [{ SnapshotId: 'snap-0ccccccccccccccc1', ReturnCode: 'success' }],
    });
    const result = await cleanupAfterFailure(state('probe-failed'), context());
    expect(result).toMatchObject({
      terminatedInstanceIds: ['i-0123456789abcdef0', 'i-0fedcba9876543210'],
      deregisteredImageId: 'ami-0ccccccccccccccc1',
      candidate: 'deregistered',
    });
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'tag:factory:build-id', Values: ['web-0123456789ab'] },
      { Name: 'tag:factory:role', Values: ['test-instance'] },
      { Name: 'tag:factory:stage', Values: ['dev'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
  });

  it('falls back to one-by-one termination when one id is unknown', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0fedcba9876543210' }] }] });
    ec2
      .on(TerminateInstancesCommand)
      .rejects(awsError('InvalidInstanceID.NotFound'))
      .on(TerminateInstancesCommand, { InstanceIds: ['i-0fedcba9876543210'] })
      .resolves({});
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    const input = { ...state('probe-failed'), error: { Error: 'States.Timeout' } };
    const result = await cleanupAfterFailure(input, context());
    expect(result).toMatchObject({ terminatedInstanceIds: ['i-0fedcba9876543210'], candidate: 'absent' });
    expect(dynamodb.calls()).toHaveLength(0);
  });

  it('after a failed promotion: retakes the lease, retags the channel from its pointer, releases the lease', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        // The pointer still names ami-…b1: the candidate's stable tag is undone.
        ec2Image('ami-0ccccccccccccccc1', 0, { 'factory:channel': 'stable' }),
        ec2Image('ami-0bbbbbbbbbbbbbbb1', 10, { 'factory:channel': 'previous-stable' }),
      ],
    });
    ec2.on(CreateTagsCommand).resolves({});
    ssm
      .on(GetParameterHistoryCommand)
      .resolves({ Parameters: [{ Value: 'ami-0bbbbbbbbbbbbbbb1', Version: 1 }] });
    dynamodb.on(PutItemCommand).resolves({});
    dynamodb.on(DeleteItemCommand).resolves({});
    const lease = { key: 'dev#web#stable', holder: 'web-exec', expiresAt: '2026-06-30T12:30:00.000Z' };
    const input = {
      ...state('probe-running'),
      candidate: { imageId: 'ami-0ccccccccccccccc1', name: 'n', createdAt: ago(0), snapshotIds: [] },
      termination: { terminatedInstanceIds: [] },
      promotionLease: lease,
      error: { Error: 'ChannelPointerNotConfirmed' },
    };

    const result = await cleanupAfterFailure(input, context());

    expect(result).toMatchObject({ candidate: 'kept', channel: { retagged: 2, lease: 'released' } });
    expect(ec2.commandCalls(CreateTagsCommand).map((call) => call.args[0].input)).toEqual([
      { Resources: ['ami-0bbbbbbbbbbbbbbb1'], Tags: [{ Key: 'factory:channel', Value: 'stable' }] },
      { Resources: ['ami-0ccccccccccccccc1'], Tags: [{ Key: 'factory:channel', Value: 'retired' }] },
    ]);
    expect(dynamodb.commandCalls(PutItemCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'golden-image-factory-dev-promotion-ledger',
      Item: { pk: { S: 'dev#web#stable' } },
      ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now OR #holder = :holder',
    });
    expect(dynamodb.commandCalls(DeleteItemCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: { S: 'dev#web#stable' } },
      ConditionExpression: '#holder = :holder',
    });
  });
});

describe('open-incident', () => {
  it('starts an incident with the execution name as client token', async () => {
    incidents.on(ListIncidentRecordsCommand).resolves({ incidentRecordSummaries: [] });
    incidents
      .on(StartIncidentCommand)
      .resolves({ incidentRecordArn: 'arn:aws:ssm-incidents::123456789012:incident-record/plan/1' });
    await expect(openIncident(state('probe-failed'), context())).resolves.toEqual({
      incidentArn: 'arn:aws:ssm-incidents::123456789012:incident-record/plan/1',
      deduplicated: false,
    });
    expect(incidents.commandCalls(StartIncidentCommand)[0]?.args[0].input).toMatchObject({
      responsePlanArn: 'arn:aws:ssm-incidents::123456789012:response-plan/image-factory',
      clientToken: 'web-ami-0aaaaaaaaaaaaaaaa-0123456-deadbeef',
      impact: 3,
      triggerDetails: { source: 'image-factory' },
    });
  });

  it('refuses a build without alerting', async () => {
    const input = state('probe-failed');
    delete (input.build as Record<string, unknown>).alerting;
    await expect(openIncident(input, context())).rejects.toMatchObject({ name: 'InvalidInput' });
  });
});
