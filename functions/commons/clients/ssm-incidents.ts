/** The SSM Incident Manager client of this execution environment, created on first use (see `lazy-client.ts`). */
import { SSMIncidentsClient } from '@aws-sdk/client-ssm-incidents';
import { lazyClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const ssmIncidents = /* @__PURE__ */ lazyClient((config) => new SSMIncidentsClient(config));
