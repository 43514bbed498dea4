/**
 * moto server helpers for the integration tests (see MOTO-GAPS.md for what moto does and does not do).
 *
 * - {@link startMotoServer}: spawns `.cache/venv/bin/moto_server` on 127.0.0.1 and a free port,
 *   with our image catalog (`MOTO_AMIS_PATH`) and AMI validation on; used by the global setup
 *   (`moto-server.ts`) and by test files that need a catalog of their own (retention).
 * - {@link resetMoto}: `POST /moto-api/reset`, every test file calls it before it starts.
 * - {@link useMotoEnvironment}: points `AWS_ENDPOINT_URL` and friends at a server before handlers
 *   are imported (they create their SDK clients at module scope).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The account moto answers as (its default). */
export const MOTO_ACCOUNT_ID = '123456789012';
/** The region every test runs in. */
export const TEST_REGION = 'us-east-1';

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const MOTO_BINARY = join(REPO_ROOT, '.cache/venv/bin/moto_server');

/** An image that exists when moto starts (and again after every reset): `MOTO_AMIS_PATH` entry. */
export interface SeedImage {
  imageId: string;
  name: string;
  /** Owning account id (moto gives every seeded image the owner alias `amazon` regardless). */
  ownerId: string;
  /** ISO 8601 `CreationDate`, the only way to have images of chosen ages in moto. */
  createdAt: string;
  tags?: Record<string, string>;
  public?: boolean;
  description?: string;
  /** EC2 `Architecture` (default x86_64). */
  architecture?: 'x86_64' | 'arm64';
}

export interface MotoServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Stops the server and waits for the process to exit; removes the catalog file. */
  stop(): Promise<void>;
}

/** Credentials and region the SDK (and moto) accept; never real. */
export const DUMMY_AWS_ENV = {
  AWS_REGION: TEST_REGION,
  AWS_DEFAULT_REGION: TEST_REGION,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
} as const;

/** Ask the OS for a free TCP port on 127.0.0.1. */
export const freePort = async (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('could not allocate a port'));
      });
    });
  });

const toMotoAmi = (image: SeedImage) => ({
  ami_id: image.imageId,
  name: image.name,
  description: image.description ?? image.name,
  owner_id: image.ownerId,
  public: image.public ?? false,
  virtualization_type: 'hvm',
  architecture: image.architecture ?? 'x86_64',
  state: 'available',
  creation_date: image.createdAt,
  image_type: 'machine',
  hypervisor: 'xen',
  root_device_name: '/dev/xvda',
  root_device_type: 'ebs',
  sriov: 'simple',
  tags: image.tags ?? {},
});

const waitUntilAnswering = async (
  endpoint: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> => {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`moto_server exited with code ${child.exitCode} before answering:\n${output()}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 30 s:\n${output()}`);
};

/**
 * Start moto server on a free loopback port with `images` as its whole EC2 image catalog.
 * @throws when the binary is missing or the server does not answer within 30 s.
 */
export const startMotoServer = async (
  options: { images?: readonly SeedImage[] } = {},
): Promise<MotoServer> => {
  if (!existsSync(MOTO_BINARY)) {
    throw new Error(
      `moto server not found at ${MOTO_BINARY}: run scripts/setup.sh (installs requirements.txt)`,
    );
  }
  const workDir = mkdtempSync(join(tmpdir(), 'factory-moto-'));
  const amisPath = join(workDir, 'amis.json');
  writeFileSync(amisPath, JSON.stringify((options.images ?? []).map(toMotoAmi)));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(MOTO_BINARY, ['-H', '127.0.0.1', '-p', String(port)], {
    env: {
      ...process.env,
      ...DUMMY_AWS_ENV,
      MOTO_AMIS_PATH: amisPath,
      MOTO_ENABLE_AMI_VALIDATION: 'true',
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`\nspawn error: ${error.message}`)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const stop = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    await waitUntilAnswering(endpoint, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, stop };
};

/** Wipe every moto backend; the `MOTO_AMIS_PATH` catalog is loaded again. */
export const resetMoto = async (endpoint: string): Promise<void> => {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
};

/**
 * Point the SDK's standard configuration at `endpoint` for this worker: `AWS_ENDPOINT_URL`, region,
 * dummy credentials, quiet Powertools. Call before importing any handler.
 */
export const useMotoEnvironment = (endpoint: string): void => {
  Object.assign(process.env, DUMMY_AWS_ENV, {
    AWS_ENDPOINT_URL: endpoint,
    POWERTOOLS_SERVICE_NAME: 'image-factory',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_NAMESPACE: 'ImageFactoryTest',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_DEV: 'false',
  });
};

/**
 * Create an IAM instance profile in moto (RunInstances refuses unknown profiles). A plain IAM Query
 * call: `@aws-sdk/client-iam` is not a project dependency, and moto does not check signatures.
 */
export const createInstanceProfile = async (endpoint: string, name: string): Promise<string> => {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${TEST_REGION}/iam/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({
      Action: 'CreateInstanceProfile',
      Version: '2010-05-08',
      InstanceProfileName: name,
    }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`CreateInstanceProfile ${name} failed: HTTP ${response.status} ${text}`);
  return `arn:aws:iam::${MOTO_ACCOUNT_ID}:instance-profile/${name}`;
};
