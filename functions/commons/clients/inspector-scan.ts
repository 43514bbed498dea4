/**
 * The Inspector Scan client of this execution environment, created on first use (see
 * `lazy-client.ts`; not tracer-captured: it is not a generated SDK client, `aws/inspector-scanner.ts`).
 */
import { InspectorScanClient } from '../aws/inspector-scanner.js';
import { config } from '../config.js';

let client: InspectorScanClient | undefined;

/** The one client, for the function's region (`AWS_REGION`, set by Lambda). */
export const inspectorScan = (): InspectorScanClient => {
  client ??= new InspectorScanClient(config.region);
  return client;
};
