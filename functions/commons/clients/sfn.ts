/** The Step Functions client of this execution environment, created on first use (see `lazy-client.ts`). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { lazyClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const sfn = /* @__PURE__ */ lazyClient((config) => new SFNClient(config));
