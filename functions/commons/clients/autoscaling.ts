/** The EC2 Auto Scaling client of each region (rollout: the groups of a promoted channel), created on first use per region (see `lazy-client.ts`). */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { lazyRegionalClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const autoScalingIn = /* @__PURE__ */ lazyRegionalClient(
  (config, region) => new AutoScalingClient({ ...config, region }),
);
