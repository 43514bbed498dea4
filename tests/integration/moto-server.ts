/**
 * Global setup of the `integration` project: one moto server for the whole run.
 *
 * Starts `moto_server` (from `.cache/venv`) on 127.0.0.1 and a free port with the vendor image
 * catalog, exposes its endpoint to the test files (`inject('motoEndpoint')`, and
 * `AWS_ENDPOINT_URL` / region / dummy credentials in the environment the forked workers inherit),
 * and stops it at teardown so no process outlives the run. Test files reset moto's state before
 * they start (`resetMoto`); files never run in parallel (`fileParallelism: false`).
 *
 * It also creates the throw-away TLS certificate of the HTTPS doubles and trusts it in the workers
 * through `NODE_EXTRA_CA_CERTS` (see `doubles/test-tls.ts`).
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { generateTestTls, type TestTls } from './doubles/test-tls.js';
import { vendorImages } from './fixtures/image-catalog.js';
import { newestStackInput, REPO_ROOT, TEMPLATE_PATH } from './iam/stack.js';
import { DUMMY_AWS_ENV, startMotoServer } from './moto.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the shared moto server. */
    motoEndpoint: string;
    /** Certificate and key of the HTTPS doubles (trusted by the workers). */
    testTls: TestTls;
  }
}

/**
 * The IAM evaluation reads the roles from the packaged template: package again when the template
 * is missing or older than serverless.yml, its includes or the ASL (`npm test` packages in its
 * `package` stage before `integration`, so this only runs for a direct vitest run after a change).
 */
const ensurePackagedStack = (): void => {
  let packagedAt = 0;
  try {
    packagedAt = statSync(TEMPLATE_PATH).mtimeMs;
  } catch {
    // not packaged yet
  }
  if (packagedAt >= newestStackInput()) return;
  console.log('integration setup: packaging the stack (serverless package) for the IAM evaluation');
  const run = spawnSync(
    'npx',
    ['--no-install', 'serverless', 'package', '--stage', 'dev', '--region', 'us-east-1'],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
  if (run.status !== 0) throw new Error(`serverless package failed with status ${run.status}`);
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensurePackagedStack();
  const tlsDir = mkdtempSync(join(tmpdir(), 'factory-tls-'));
  const tls = generateTestTls(tlsDir);
  const server = await startMotoServer({ images: vendorImages() });
  const reportDir = mkdtempSync(join(tmpdir(), 'factory-boundary-'));
  Object.assign(process.env, DUMMY_AWS_ENV, {
    // Each file's proxy appends what it enforced (harness.ts); printed at teardown.
    FACTORY_BOUNDARY_REPORT: join(reportDir, 'report.jsonl'),
    AWS_ENDPOINT_URL: server.endpoint,
    NODE_EXTRA_CA_CERTS: tls.certPath,
    // The SDK warns once per process that it will require Node 22 from 2027 (this machine has 20).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  project.provide('motoEndpoint', server.endpoint);
  project.provide('testTls', tls);
  return async () => {
    printBoundaryReport(join(reportDir, 'report.jsonl'));
    rmSync(reportDir, { recursive: true, force: true });
    await server.stop();
    rmSync(tlsDir, { recursive: true, force: true });
  };
}

/** Print the request limits the service-model validator checked in this run (one line each). */
const printBoundaryReport = (path: string): void => {
  if (!existsSync(path)) return;
  const limits = new Set<string>();
  const pairs = new Set<string>();
  let refused = 0;
  let denied = 0;
  for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as {
      limits: string[];
      refused: number;
      pairs?: string[];
      denied?: number;
    };
    for (const limit of entry.limits) limits.add(limit);
    for (const pair of entry.pairs ?? []) pairs.add(pair);
    refused += entry.refused;
    denied += entry.denied ?? 0;
  }
  const sorted = [...limits].sort();
  console.log(
    `request validation (botocore service model): ${sorted.length} distinct limits checked on real requests, ` +
      `${refused} requests refused\n${sorted.map((limit) => `  ${limit}`).join('\n')}`,
  );
  console.log(
    `IAM evaluation (packaged stack roles): ${pairs.size} distinct (role, action) pairs allowed, ${denied} calls denied\n` +
      [...pairs]
        .sort()
        .map((pair) => `  ${pair}`)
        .join('\n'),
  );
};
