/**
 * DynamoDbPromotionLedger when the condition fails: DynamoDB refuses the write with
 * `ConditionalCheckFailedException`, whose `Item` holds the item as it was when
 * `ReturnValuesOnConditionCheckFailure: ALL_OLD` is set
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html,
 * "ReturnValuesOnConditionCheckFailure"). The behaviour against a real table is in
 * tests/integration/promotion-safety.test.ts; here, what the adapter makes of that answer.
 */
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDbPromotionLedger } from '#commons/aws/dynamodb-promotion-ledger.js';
import { PromotionLeaseHeld } from '#commons/errors.js';
import { mockAws } from '../helpers/aws.js';

const dynamodb = mockAws(DynamoDBClient);
const awsError = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), { name, $metadata: {}, ...extra });
const NOW = new Date('2026-11-30T12:00:00Z');
const ledger = () =>
  new DynamoDbPromotionLedger(
    () => new DynamoDBClient({}),
    'ledger',
    'prod',
    () => NOW,
  );

describe('DynamoDbPromotionLedger', () => {
  it('acquire: a lease another holder has not let lapse is PromotionLeaseHeld, naming that holder and its expiry', async () => {
    // Prepare
    dynamodb.on(PutItemCommand).rejects(
      awsError('ConditionalCheckFailedException', {
        Item: {
          pk: { S: 'lease#prod#web#stable' },
          holder: { S: 'web-build-7' },
          expiresAt: { N: '1796040000' },
        },
      }),
    );

    // Act
    const held = await ledger()
      .acquire('web', 'stable', 'factory-cli:ops@host:1', 900)
      .catch((error: unknown) => error);

    // Assess
    expect(held).toBeInstanceOf(PromotionLeaseHeld);
    expect(held).toMatchObject({
      holder: 'web-build-7',
      expiresAt: new Date(1796040000 * 1000).toISOString(),
    });
    expect(dynamodb.commandCalls(PutItemCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'ledger',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('acquire: without the old item the holder and expiry are unknown; other errors pass through', async () => {
    // Prepare
    dynamodb
      .on(PutItemCommand)
      .rejectsOnce(awsError('ConditionalCheckFailedException'))
      .rejectsOnce(awsError('ProvisionedThroughputExceededException'));

    // Act
    const unknown = await ledger()
      .acquire('web', 'stable', 'me', 900)
      .catch((error: unknown) => error);
    const throttled = ledger().acquire('web', 'stable', 'me', 900);

    // Assess
    expect(unknown).toMatchObject({
      name: 'PromotionLeaseHeld',
      holder: '(unknown)',
      expiresAt: '(unknown)',
    });
    await expect(throttled).rejects.toThrow('ProvisionedThroughputExceededException');
  });

  it('release: false when another holder has the lease (nothing deleted), other errors pass through', async () => {
    // Prepare
    dynamodb
      .on(DeleteItemCommand)
      .rejectsOnce(awsError('ConditionalCheckFailedException'))
      .rejectsOnce(awsError('AccessDeniedException'));

    // Act
    const released = await ledger().release('web', 'stable', 'me');
    const denied = ledger().release('web', 'stable', 'me');

    // Assess
    expect(released).toBe(false);
    await expect(denied).rejects.toThrow('AccessDeniedException');
  });
});
