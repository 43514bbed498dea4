import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetParameterCommand,
  GetParameterHistoryCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as rollbackChannel } from '../../../functions/rollback-channel.js';
import { mockAws } from '../helpers/aws.js';
import { context } from '../helpers/lambda.js';

// The handler's configuration; the runtime's (region, Powertools) is tests/unit/setup.ts's.
vi.hoisted(() => {
  Object.assign(process.env, {
    CHANNEL_PARAMETER_PREFIX: '/image-factory/channels/',
    STAGE: 'dev',
    PROMOTION_LEDGER_TABLE: 'golden-image-factory-dev-promotion-ledger',
  });
});

const ec2 = mockAws(EC2Client);
const ssm = mockAws(SSMClient);
const dynamodb = mockAws(DynamoDBClient);
const eventBridge = mockAws(EventBridgeClient);
beforeEach(() => {
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  dynamodb.on(PutItemCommand).resolves({});
  dynamodb.on(DeleteItemCommand).resolves({});
});

const image = (id: string, created: string, channel?: string) => ({
  ImageId: id,
  Name: id,
  CreationDate: created,
  Tags: [
    { Key: 'factory:pipeline', Value: 'web' },
    ...(channel ? [{ Key: 'factory:channel', Value: channel }] : []),
  ],
});

describe('rollback-channel', () => {
  it('re-points the channel to the previous image and withdraws the current one', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        image('ami-0000000000000000c', '2026-06-29T00:00:00.000Z', 'stable'),
        image('ami-0000000000000000b', '2026-06-20T00:00:00.000Z', 'previous-stable'),
      ],
    });
    ec2.on(CreateTagsCommand).resolves({});
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0000000000000000c', Version: 5 } });
    ssm.on(PutParameterCommand).resolves({ Version: 6 });
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/channels/web/stable:6' })
      .resolves({ Parameter: { Value: 'ami-0000000000000000b', Version: 6 } });
    ssm.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Value: 'ami-0000000000000000b', Version: 4 },
        { Value: 'ami-0000000000000000c', Version: 5 },
        { Value: 'ami-0000000000000000b', Version: 6 },
      ],
    });
    await expect(rollbackChannel({ pipeline: 'web' }, context())).resolves.toEqual({
      pipeline: 'web',
      channel: 'stable',
      imageId: 'ami-0000000000000000b',
      withdrawnImageId: 'ami-0000000000000000c',
      parameterName: '/image-factory/channels/web/stable',
      parameterVersion: 6,
    });
    // The withdrawal first, then the pointer moves, then the target is tagged from the pointer.
    expect(ec2.commandCalls(CreateTagsCommand).map((call) => call.args[0].input)).toEqual([
      { Resources: ['ami-0000000000000000c'], Tags: [{ Key: 'factory:channel', Value: 'rolled-back' }] },
      { Resources: ['ami-0000000000000000b'], Tags: [{ Key: 'factory:channel', Value: 'stable' }] },
    ]);
    // Under the channel's lease, held as the request and given back.
    expect(dynamodb.commandCalls(PutItemCommand)[0]?.args[0].input.Item).toMatchObject({
      pk: { S: 'dev#web#stable' },
      holder: { S: expect.stringMatching(/^rollback:/) },
    });
    expect(dynamodb.commandCalls(DeleteItemCommand)).toHaveLength(1);
    // Image Rolled Back, once the pointer moved.
    const entries = eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(entries.map((entry) => entry.DetailType)).toEqual(['Image Rolled Back']);
    expect(JSON.parse(entries[0]?.Detail ?? '{}')).toMatchObject({
      stage: 'dev',
      imageId: 'ami-0000000000000000b',
      previousImageId: 'ami-0000000000000000c',
      parameterVersion: 6,
    });
  });

  it('uses the parameter history when no image is tagged previous', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        image('ami-0000000000000000c', '2026-06-29T00:00:00.000Z', 'stable'),
        image('ami-0000000000000000a', '2026-06-01T00:00:00.000Z', 'retired'),
      ],
    });
    ec2.on(CreateTagsCommand).resolves({});
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0000000000000000c', Version: 2 } });
    ssm.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Value: 'ami-0000000000000000a', Version: 1 },
        { Value: 'ami-0000000000000000c', Version: 2 },
      ],
    });
    ssm.on(PutParameterCommand).resolves({ Version: 3 });
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/channels/web/stable:3' })
      .resolves({ Parameter: { Value: 'ami-0000000000000000a', Version: 3 } });
    await expect(rollbackChannel({ pipeline: 'web', channel: 'stable' }, context())).resolves.toMatchObject({
      imageId: 'ami-0000000000000000a',
    });
  });

  it('rejects unknown keys and a missing pipeline with InvalidInput', async () => {
    await expect(rollbackChannel({ pipline: 'web' }, context())).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringMatching(/pipeline: pipeline is required.*Unrecognized key.*pipline/),
    });
  });

  it('refuses an image of another pipeline', async () => {
    ec2
      .on(DescribeImagesCommand)
      .resolves({ Images: [image('ami-0000000000000000c', '2026-06-29T00:00:00.000Z', 'stable')] });
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0000000000000000c', Version: 2 } });
    await expect(
      rollbackChannel({ pipeline: 'web', imageId: 'ami-0ffffffffffffffff' }, context()),
    ).rejects.toMatchObject({
      name: 'InvalidInput',
    });
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });
});
