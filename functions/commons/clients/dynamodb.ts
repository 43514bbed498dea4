/** The DynamoDB client of this execution environment, created on first use (see `lazy-client.ts`). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lazyClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const dynamodb = /* @__PURE__ */ lazyClient((config) => new DynamoDBClient(config));
