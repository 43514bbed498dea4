/** The EventBridge client of this execution environment, created on first use (see `lazy-client.ts`). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { lazyClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const eventBridge = /* @__PURE__ */ lazyClient((config) => new EventBridgeClient(config));
