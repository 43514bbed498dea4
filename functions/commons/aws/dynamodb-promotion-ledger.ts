/**
 * `PromotionLedger` on DynamoDB: one table per stack (partition key `pk`, string; TTL attribute
 * `expiresAt`, epoch seconds), two kinds of item:
 *
 * ```
 * pk = <stage>#<pipeline>#<channel>      { holder, expiresAt }   the channel's promotion lease
 * pk = <stage>#<pipeline>#@sequence      { sequence }            the pipeline's build sequence
 * ```
 *
 * - acquire: `PutItem` with `ConditionExpression`
 *   `attribute_not_exists(pk) OR expiresAt < :now OR holder = :holder`. A condition expression is
 *   evaluated and the write applied atomically for the item, so of two executions only one gets a
 *   live lease; the other gets `ConditionalCheckFailedException`, with the holder's item
 *   (`ReturnValuesOnConditionCheckFailure: ALL_OLD`) for the `PromotionLeaseHeld` message.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 *   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html
 * - TTL deletion is lazy: "DynamoDB typically deletes expired items within two days of expiration
 *   ... Items that have expired and not been deleted will still show up in reads" (UpdateTimeToLive,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html;
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html). So the
 *   condition compares `expiresAt` with the caller's clock itself; TTL only sweeps the table. A
 *   lease whose holder was aborted (StopExecution, timeout) is therefore free once it lapsed.
 * - release: `DeleteItem` conditioned on `holder = :holder`: a lease that lapsed and was taken by
 *   another execution is never deleted by its former holder.
 * - nextSequence: `UpdateItem` `ADD sequence :one` with `ReturnValues: UPDATED_NEW`; ADD on a
 *   missing item or attribute starts from 0, and each update is applied atomically, so every number
 *   is handed out once.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html#Expressions.UpdateExpressions.ADD
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ClientProvider } from '../clients/lazy-client.js';
import { buildSequenceKey, promotionLeaseKey } from '../core/promotion-lease.js';
import { PromotionLeaseHeld } from '../errors.js';
import type { PromotionLease, PromotionLedger } from '../ports.js';

/** Attribute names of the ledger table (the TTL attribute is {@link LEDGER_TTL_ATTRIBUTE}). */
export const LEDGER_PARTITION_KEY = 'pk';
export const LEDGER_TTL_ATTRIBUTE = 'expiresAt';

const isConditionFailure = (error: unknown): boolean =>
  (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

export class DynamoDbPromotionLedger implements PromotionLedger {
  constructor(
    private readonly client: ClientProvider<DynamoDBClient>,
    /** Table name (`PROMOTION_LEDGER_TABLE`). */
    private readonly table: string,
    /** The stack's stage: the first part of every key (IAM `dynamodb:LeadingKeys` is scoped to it). */
    private readonly stage: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async nextSequence(pipeline: string): Promise<number> {
    const { Attributes } = await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { [LEDGER_PARTITION_KEY]: { S: buildSequenceKey(this.stage, pipeline) } },
        UpdateExpression: 'ADD #sequence :one',
        ExpressionAttributeNames: { '#sequence': 'sequence' },
        ExpressionAttributeValues: { ':one': { N: '1' } },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const value = Number(Attributes?.sequence?.N);
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`ledger ${this.table} returned no build sequence for ${pipeline}`);
    }
    return value;
  }

  async acquire(
    pipeline: string,
    channel: string,
    holder: string,
    ttlSeconds: number,
  ): Promise<PromotionLease> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`lease TTL ${ttlSeconds} s is not a positive integer`);
    }
    const key = promotionLeaseKey(this.stage, pipeline, channel);
    const now = epochSeconds(this.now());
    const expiresAt = now + ttlSeconds;
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            [LEDGER_PARTITION_KEY]: { S: key },
            holder: { S: holder },
            [LEDGER_TTL_ATTRIBUTE]: { N: String(expiresAt) },
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now OR #holder = :holder',
          ExpressionAttributeNames: {
            '#pk': LEDGER_PARTITION_KEY,
            '#expiresAt': LEDGER_TTL_ATTRIBUTE,
            '#holder': 'holder',
          },
          ExpressionAttributeValues: { ':now': { N: String(now) }, ':holder': { S: holder } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) {
        const other = (error as { Item?: Record<string, AttributeValue> }).Item;
        const until = Number(other?.[LEDGER_TTL_ATTRIBUTE]?.N);
        throw new PromotionLeaseHeld(
          key,
          other?.holder?.S ?? '(unknown)',
          Number.isFinite(until) ? new Date(until * 1000).toISOString() : '(unknown)',
        );
      }
      throw error;
    }
    return { key, holder, expiresAt: new Date(expiresAt * 1000).toISOString() };
  }

  async release(pipeline: string, channel: string, holder: string): Promise<boolean> {
    try {
      await this.client().send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { [LEDGER_PARTITION_KEY]: { S: promotionLeaseKey(this.stage, pipeline, channel) } },
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': 'holder' },
          ExpressionAttributeValues: { ':holder': { S: holder } },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
