/** The SSM (Parameter Store, Run Command, instance information) client of this execution environment, created on first use (see `lazy-client.ts`). */
import { SSMClient } from '@aws-sdk/client-ssm';
import { lazyClient, lazyRegionalClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const ssm = /* @__PURE__ */ lazyClient((config) => new SSMClient(config));

/** The SSM client of a region (each region's channel pointers), created on first use per region. */
export const ssmIn = /* @__PURE__ */ lazyRegionalClient(
  (config, region) => new SSMClient({ ...config, region }),
);
