import {
  DeregisterImageCommand,
  DescribeImageReferencesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { buildId } from '#commons/core/build-key.js';
import { handler as sweepLeftovers } from '../../../functions/sweep-leftovers.js';
import { mockAws } from '../helpers/aws.js';
import { context, loadEvent } from '../helpers/lambda.js';

// The handler's configuration; the runtime's (region, Powertools) is tests/unit/setup.ts's.
vi.hoisted(() => {
  Object.assign(process.env, {
    STAGE: 'dev',
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:golden-image-factory-dev',
    PIPELINES: 'web=ubuntu-24.04',
    SLACK_WEBHOOK_PARAMETER: '/image-factory/slack-webhook-url',
    SWEEPER_GRACE_MINUTES: '60',
    SWEEPER_DRY_RUN: 'false',
  });
});

const ec2 = mockAws(EC2Client);
const sfn = mockAws(SFNClient);
const _ssm = mockAws(SSMClient);
const event = () => loadEvent<{ detail: Record<string, unknown> }>('eventbridge', 'execution-status-change');
const ARN = event().detail.executionArn as string;
const TAGS = [
  { Key: 'factory:stage', Value: 'dev' },
  { Key: 'factory:pipeline', Value: 'web' },
  { Key: 'factory:build-id', Value: buildId({ pipeline: 'web', executionArn: ARN }) },
  { Key: 'factory:execution', Value: ARN.split(':').at(-1) },
  { Key: 'factory:role', Value: 'test-instance' },
];

beforeEach(() => {
  ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
  ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [] });
  ec2.on(DescribeImagesCommand).resolves({ Images: [] });
  ec2.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          { InstanceId: 'i-0123456789abcdef0', LaunchTime: new Date('2026-06-30T09:00:00Z'), Tags: TAGS },
        ],
      },
    ],
  });
  sfn
    .on(DescribeExecutionCommand)
    .resolves({ status: 'ABORTED', stopDate: new Date('2026-06-30T10:00:00Z') });
});

describe('sweep-leftovers', () => {
  it('on this state machine’s event: lists by the factory tags, reads the execution, terminates', async () => {
    const report = await sweepLeftovers({ ...event(), detail: { ...event().detail } }, context());

    expect(report.removed['test-instance']).toBe(1);
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'tag:factory:role', Values: ['build-instance', 'test-instance'] },
      { Name: 'tag:factory:stage', Values: ['dev'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
    expect(ec2.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toMatchObject({
      Owners: ['self'],
      Filters: [
        { Name: 'tag:factory:channel', Values: ['candidate'] },
        { Name: 'tag:factory:stage', Values: ['dev'] },
      ],
    });
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]?.args[0].input).toEqual({ executionArn: ARN });
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: ['i-0123456789abcdef0'],
    });
  });

  it('a manual dry run removes nothing', async () => {
    const report = await sweepLeftovers({ dryRun: true }, context());

    expect(report).toMatchObject({ dryRun: true, removed: { 'test-instance': 1 } });
    expect(ec2.commandCalls(TerminateInstancesCommand)).toEqual([]);
    expect(ec2.commandCalls(DeregisterImageCommand)).toEqual([]);
  });

  it.each([
    [
      'another state machine’s execution',
      { detail: { stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:x' } },
    ],
    ['a status it is not for', { detail: { status: 'SUCCEEDED' } }],
    ['an unknown key', { dryRun: true, force: true }],
  ])('refuses %s with InvalidInput and touches nothing', async (_label, change) => {
    const base = event();
    const input =
      'detail' in change ? { ...base, detail: { ...base.detail, ...change.detail } } : (change as unknown);

    await expect(sweepLeftovers(input, context())).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(ec2.commandCalls(DescribeInstancesCommand)).toEqual([]);
  });
});
