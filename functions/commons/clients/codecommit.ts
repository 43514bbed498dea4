/**
 * CodeCommit clients of this execution environment, one per region, each created on first use for
 * its region and captured by the tracer (see `lazy-client.ts`). The region is the one named in the
 * repository URL (`codecommit::<region>://<name>`), which need not be the function's own region.
 */
import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { lazyRegionalClient } from './lazy-client.js';

/** Marked pure so that a bundle which never calls the getter drops this client. */
export const codeCommit = /* @__PURE__ */ lazyRegionalClient(
  (config, region) => new CodeCommitClient({ ...config, region }),
);
