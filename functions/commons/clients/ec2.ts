/** The EC2 client of this execution environment, created on first use (see `lazy-client.ts`). */
import { EC2Client } from '@aws-sdk/client-ec2';
import { lazyClient, lazyRegionalClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const ec2 = /* @__PURE__ */ lazyClient((config) => new EC2Client(config));

/** The EC2 client of a region (distribution: copies, shares, each region's images), created on first use per region. */
export const ec2In = /* @__PURE__ */ lazyRegionalClient(
  (config, region) => new EC2Client({ ...config, region }),
);
