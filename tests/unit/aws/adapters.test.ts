import {
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  CreateOpsItemCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import {
  CreateTimelineEventCommand,
  ListIncidentRecordsCommand,
  SSMIncidentsClient,
  StartIncidentCommand,
} from '@aws-sdk/client-ssm-incidents';
import { describe, expect, it } from 'vitest';
import { Ec2ImageStore, toImageRecord } from '#commons/aws/ec2-image-store.js';
import { SsmIncidentReporter } from '#commons/aws/incident-reporter.js';
import { OpsCenterReporter } from '#commons/aws/ops-center-reporter.js';
import { PublicParameterSourceImageResolver } from '#commons/aws/source-image-resolver.js';
import { SsmChannelPointer } from '#commons/aws/ssm-channel-pointer.js';
import { SsmCommandRunner } from '#commons/aws/ssm-command-runner.js';
import { startBuild } from '#commons/aws/start-execution.js';
import { mockAws } from '../helpers/aws.js';

const ec2 = mockAws(EC2Client);
const ssm = mockAws(SSMClient);
const sfn = mockAws(SFNClient);
const incidents = mockAws(SSMIncidentsClient);
/** A client provider (`#commons/clients`) handing out one client. */
const provide =
  <Client>(client: Client) =>
  (): Client =>
    client;
const awsError = (name: string) => Object.assign(new Error(name), { name, $metadata: {} });

describe('Ec2ImageStore', () => {
  const store = new Ec2ImageStore(provide(new EC2Client({})), 'prod');

  it('pages DescribeImageReferences and returns only referenced ids', async () => {
    ec2
      .on(DescribeImageReferencesCommand)
      .resolvesOnce({ ImageReferences: [{ ImageId: 'ami-2', ResourceType: 'ec2:Instance' }], NextToken: 't' })
      .resolvesOnce({ ImageReferences: [{ ImageId: 'ami-3', ResourceType: 'ec2:LaunchTemplate' }] });
    await expect(store.imagesInUse(['ami-1', 'ami-2', 'ami-3'])).resolves.toEqual(['ami-2', 'ami-3']);
    expect(ec2.commandCalls(DescribeImageReferencesCommand)[1]?.args[0].input.NextToken).toBe('t');
  });

  it('does not call EC2 for an empty list', async () => {
    await expect(store.imagesInUse([])).resolves.toEqual([]);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('maps every DeleteAssociatedSnapshots return code', async () => {
    ec2.on(DeregisterImageCommand).resolves({
      Return: true,
      DeleteSnapshotResults: [
        { SnapshotId: 'snap-1', ReturnCode: 'success' },
        { SnapshotId: 'snap-2', ReturnCode: 'skipped' },
        { SnapshotId: 'snap-3', ReturnCode: 'internal-error' },
      ],
    });
    await expect(store.deregisterImage('ami-1')).resolves.toEqual([
      { snapshotId: 'snap-1', outcome: 'deleted' },
      { snapshotId: 'snap-2', outcome: 'skipped', detail: 'skipped' },
      { snapshotId: 'snap-3', outcome: 'failed', detail: 'internal-error' },
    ]);
  });

  it('returns undefined for an unknown image and rethrows other errors', async () => {
    ec2
      .on(DescribeImagesCommand)
      .rejectsOnce(awsError('InvalidAMIID.NotFound'))
      .rejectsOnce(awsError('UnauthorizedOperation'));
    await expect(store.getImage('ami-0')).resolves.toBeUndefined();
    await expect(store.getImage('ami-0')).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
  });
});

describe('Ec2ImageStore — what retention needs to know', () => {
  const store = new Ec2ImageStore(() => new EC2Client({}), 'prod');
  const ids = Array.from({ length: 23 }, (_, i) => `ami-${String(i).padStart(17, '0')}`);

  it('asks DescribeImageReferences for ssm:Parameter references, 10 image ids per call (the API maximum)', async () => {
    // Prepare
    ec2.on(DescribeImageReferencesCommand).callsFake(async (input: { ImageIds: string[] }) => ({
      ImageReferences: input.ImageIds.filter((id) => id.endsWith('7')).map((ImageId) => ({
        ImageId,
        ResourceType: 'ssm:Parameter',
        Arn: 'arn:aws:ssm:eu-west-1:1:parameter/team/ami',
      })),
    }));

    // Act
    const referenced = await store.imagesReferencedByParameters(ids);

    // Assess
    const calls = ec2.commandCalls(DescribeImageReferencesCommand).map((call) => call.args[0].input);
    expect(referenced).toEqual([ids[7], ids[17]]);
    expect(calls.map((input) => input.ImageIds?.length)).toEqual([10, 10, 3]);
    for (const input of calls) expect(input.ResourceTypes).toEqual([{ ResourceType: 'ssm:Parameter' }]);
  });

  it('lists who an image is shared with from its launchPermission attribute', async () => {
    ec2.on(DescribeImageAttributeCommand).resolves({
      LaunchPermissions: [
        { UserId: '444455556666' },
        { Group: 'all' },
        { OrganizationArn: 'arn:aws:organizations::1:organization/o-abc' },
      ],
    });
    await expect(store.sharedWith('ami-1')).resolves.toEqual([
      '444455556666',
      'all',
      'arn:aws:organizations::1:organization/o-abc',
    ]);
    expect(ec2.commandCalls(DescribeImageAttributeCommand)[0]?.args[0].input).toEqual({
      ImageId: 'ami-1',
      Attribute: 'launchPermission',
    });
  });

  it('treats a vanished image as shared with nobody and rethrows other errors', async () => {
    ec2
      .on(DescribeImageAttributeCommand)
      .rejectsOnce(awsError('InvalidAMIID.NotFound'))
      .rejectsOnce(awsError('RequestLimitExceeded'));
    await expect(store.sharedWith('ami-1')).resolves.toEqual([]);
    await expect(store.sharedWith('ami-1')).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
  });

  it('maps LastLaunchedTime and Public from DescribeImages', () => {
    expect(
      toImageRecord({ ImageId: 'ami-1', LastLaunchedTime: '2026-06-01T00:00:00Z', Public: false }),
    ).toMatchObject({ lastLaunchedAt: '2026-06-01T00:00:00Z', public: false });
    expect(toImageRecord({ ImageId: 'ami-1' })).not.toHaveProperty('lastLaunchedAt');
  });
});

describe('SsmChannelPointer', () => {
  const pointer = new SsmChannelPointer(provide(new SSMClient({})), '/ch');

  it('returns the history newest first across pages', async () => {
    ssm
      .on(GetParameterHistoryCommand)
      .resolvesOnce({
        Parameters: [{ Value: 'ami-1', Version: 1, LastModifiedDate: new Date('2026-01-01T00:00:00Z') }],
        NextToken: 'n',
      })
      .resolvesOnce({ Parameters: [{ Value: 'ami-2', Version: 2 }] });
    await expect(pointer.history('web', 'stable')).resolves.toEqual([
      { imageId: 'ami-2', version: 2, location: '/ch/web/stable' },
      { imageId: 'ami-1', version: 1, location: '/ch/web/stable', updatedAt: '2026-01-01T00:00:00.000Z' },
    ]);
  });

  it("lists a pipeline's channels with GetParametersByPath, one level, across pages", async () => {
    ssm
      .on(GetParametersByPathCommand)
      .resolvesOnce({ Parameters: [{ Name: '/factory/web/stable' }], NextToken: 't' })
      .resolvesOnce({ Parameters: [{ Name: '/factory/web/beta' }] });
    const pointer = new SsmChannelPointer(() => new SSMClient({}), '/factory');
    await expect(pointer.channels('web')).resolves.toEqual(['stable', 'beta']);
    expect(ssm.commandCalls(GetParametersByPathCommand)[0]?.args[0].input).toMatchObject({
      Path: '/factory/web',
      Recursive: false,
    });
    expect(ssm.commandCalls(GetParametersByPathCommand)[1]?.args[0].input.NextToken).toBe('t');
  });

  it('treats a missing parameter as a channel never promoted', async () => {
    ssm.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    ssm.on(GetParameterHistoryCommand).rejects(awsError('ParameterNotFound'));
    await expect(pointer.current('web', 'stable')).resolves.toBeUndefined();
    await expect(pointer.history('web', 'stable')).resolves.toEqual([]);
  });
});

describe('SsmCommandRunner', () => {
  const runner = new SsmCommandRunner(provide(new SSMClient({})), '/probe.sh');

  it.each([
    ['Pending', -1, { status: 'Pending' }],
    ['InProgress', -1, { status: 'InProgress' }],
    ['Success', 0, { status: 'Success', exitCode: 0 }],
    ['Failed', 1, { status: 'Failed', exitCode: 1 }],
    ['Cancelled', -1, { status: 'Failed' }],
    ['TimedOut', -1, { status: 'TimedOut' }],
  ])('maps %s (ResponseCode %i)', async (Status, ResponseCode, expected) => {
    ssm
      .on(GetCommandInvocationCommand)
      .resolves({ Status: Status as 'Pending', ResponseCode, StandardOutputContent: 'x' });
    const result = await runner.readProbe('c', 'i');
    expect(result).toEqual({ ...expected, stdout: 'x', stderr: '' });
  });

  it('rethrows other SSM errors unchanged', async () => {
    ssm.on(GetCommandInvocationCommand).rejects(awsError('InvalidInstanceId'));
    await expect(runner.readProbe('c', 'i')).rejects.toMatchObject({ name: 'InvalidInstanceId' });
  });
});

describe('PublicParameterSourceImageResolver', () => {
  const resolver = new PublicParameterSourceImageResolver(
    provide(new EC2Client({})),
    provide(new SSMClient({})),
  );

  it('fails with MissingConfiguration when the public parameter does not exist in the region', async () => {
    ssm.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    await expect(resolver.resolve('debian-12')).rejects.toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining('/aws/service/debian/release/bookworm/latest/amd64'),
    });
  });

  it('fails when the parameter points to a vanished AMI', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0123456789abcdef0' } });
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    await expect(resolver.resolve('al2023')).rejects.toMatchObject({ name: 'MissingConfiguration' });
  });

  it('throws UnknownBaseImage before any call', async () => {
    await expect(resolver.resolve('centos-7')).rejects.toMatchObject({ name: 'UnknownBaseImage' });
    expect(ssm.calls()).toHaveLength(0);
  });
});

describe('startBuild', () => {
  const input = {
    pipeline: 'web',
    channel: 'stable',
    trigger: 'manual' as const,
    baseImage: 'al2023',
    sourceImageId: 'ami-0123456789abcdef0',
  };

  it('returns started=false on ExecutionAlreadyExists and rethrows other errors', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(awsError('ExecutionAlreadyExists'))
      .rejectsOnce(awsError('StateMachineDoesNotExist'));
    await expect(
      startBuild(provide(new SFNClient({})), 'arn:sm', input, input.sourceImageId),
    ).resolves.toMatchObject({
      started: false,
    });
    await expect(
      startBuild(provide(new SFNClient({})), 'arn:sm', input, input.sourceImageId),
    ).rejects.toMatchObject({
      name: 'StateMachineDoesNotExist',
    });
  });
});

describe('SsmIncidentReporter', () => {
  it('links the execution as a related item', async () => {
    incidents.on(StartIncidentCommand).resolves({ incidentRecordArn: 'arn:rec' });
    const reporter = new SsmIncidentReporter(provide(new SSMIncidentsClient({})));
    incidents.on(ListIncidentRecordsCommand).resolves({ incidentRecordSummaries: [] });
    await reporter.open({
      responsePlanArn: 'arn:plan',
      dedupKey: 'k',
      title: 't',
      clientToken: 'exec-1',
      impact: 3,
      detail: 'd',
      link: 'https://console',
    });
    expect(incidents.commandCalls(StartIncidentCommand)[0]?.args[0].input.relatedItems).toEqual([
      { identifier: { type: 'OTHER', value: { url: 'https://console' } }, title: 'Execution' },
    ]);
  });

  it('fails when no incident record comes back', async () => {
    incidents.on(StartIncidentCommand).resolves({});
    incidents.on(ListIncidentRecordsCommand).resolves({ incidentRecordSummaries: [] });
    const reporter = new SsmIncidentReporter(provide(new SSMIncidentsClient({})));
    await expect(
      reporter.open({
        responsePlanArn: 'a',
        dedupKey: 'k',
        title: 't',
        clientToken: 'c',
        impact: 3,
        detail: 'd',
      }),
    ).rejects.toThrow(/no incident record/);
  });

  it("adds a failure to the pipeline's open incident of this plan instead of opening another", async () => {
    // Prepare: an open incident with the same title exists for this plan, and one of another stage's plan
    const mine = 'arn:aws:ssm-incidents::123456789012:incident-record/golden-image-factory-prod/abc';
    incidents.on(ListIncidentRecordsCommand).resolves({
      incidentRecordSummaries: [
        {
          arn: 'arn:aws:ssm-incidents::123456789012:incident-record/golden-image-factory-dev/x',
          title: 't',
        } as never,
        { arn: mine, title: 't' } as never,
      ],
    });
    incidents.on(CreateTimelineEventCommand).resolves({ incidentRecordArn: mine, eventId: 'e' });
    const reporter = new SsmIncidentReporter(provide(new SSMIncidentsClient({})));

    // Act
    const result = await reporter.open({
      responsePlanArn: 'arn:aws:ssm-incidents::123456789012:response-plan/golden-image-factory-prod',
      dedupKey: 'k',
      title: 't',
      clientToken: 'exec-2',
      impact: 3,
      detail: 'd',
    });

    // Assess
    expect(result).toEqual({ incidentArn: mine, deduplicated: true });
    expect(incidents.commandCalls(StartIncidentCommand)).toHaveLength(0);
    expect(incidents.commandCalls(ListIncidentRecordsCommand)[0]?.args[0].input.filters).toEqual([
      { key: 'status', condition: { equals: { stringValues: ['OPEN'] } } },
    ]);
    expect(incidents.commandCalls(CreateTimelineEventCommand)[0]?.args[0].input).toMatchObject({
      incidentRecordArn: mine,
      eventType: 'Custom Event',
      clientToken: 'exec-2',
    });
  });
});

describe('OpsCenterReporter', () => {
  const request = {
    dedupKey: 'image-factory:sm:web:CheckProbeResult',
    title: 't',
    clientToken: 'c',
    impact: 3 as const,
    detail: 'd',
  };

  it('creates an OpsItem whose /aws/dedup names the dedup key', async () => {
    ssm.on(CreateOpsItemCommand).resolves({ OpsItemId: 'oi-0123456789ab' });
    const reporter = new OpsCenterReporter(provide(new SSMClient({})), 'arn:aws:ssm:eu-west-1:123456789012');

    const result = await reporter.open(request);

    expect(result).toEqual({
      incidentArn: 'arn:aws:ssm:eu-west-1:123456789012:opsitem/oi-0123456789ab',
      deduplicated: false,
    });
    expect(ssm.commandCalls(CreateOpsItemCommand)[0]?.args[0].input).toMatchObject({
      Source: 'image-factory',
      OperationalData: {
        '/aws/dedup': {
          Type: 'SearchableString',
          Value: '{"dedupString":"image-factory:sm:web:CheckProbeResult"}',
        },
      },
    });
  });

  it('returns the open OpsItem that OpsCenter deduplicated the failure into', async () => {
    ssm.on(CreateOpsItemCommand).rejects(
      Object.assign(new Error('The OpsItem already exists.'), {
        name: 'OpsItemAlreadyExistsException',
        OpsItemId: 'oi-1',
        $metadata: {},
      }),
    );
    const reporter = new OpsCenterReporter(provide(new SSMClient({})), 'arn:aws:ssm:eu-west-1:123456789012');

    await expect(reporter.open(request)).resolves.toEqual({
      incidentArn: 'arn:aws:ssm:eu-west-1:123456789012:opsitem/oi-1',
      deduplicated: true,
    });
  });

  it('passes any other error on', async () => {
    ssm
      .on(CreateOpsItemCommand)
      .rejects(Object.assign(new Error('no'), { name: 'OpsItemAccessDeniedException', $metadata: {} }));
    const reporter = new OpsCenterReporter(provide(new SSMClient({})), 'arn:aws:ssm:eu-west-1:123456789012');
    await expect(reporter.open(request)).rejects.toMatchObject({ name: 'OpsItemAccessDeniedException' });
  });
});
