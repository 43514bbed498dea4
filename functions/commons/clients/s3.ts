/** The S3 client of this execution environment, created on first use (see `lazy-client.ts`). */
import { S3Client } from '@aws-sdk/client-s3';
import { lazyClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const s3 = /* @__PURE__ */ lazyClient((config) => new S3Client(config));
