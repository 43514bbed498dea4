/**
 * Integration harness: the AWS side of one test file.
 *
 * {@link startAwsSide} resets the shared moto server (or uses the one given), puts the
 * {@link MotoGapProxy} in front of it, sets the environment the handlers read at module scope
 * (`AWS_ENDPOINT_URL` → the proxy, dummy credentials, quiet Powertools, factory settings) and
 * returns SDK clients that talk to moto *directly*, for preparing and asserting the emulator's state.
 * Import handlers only after it ran (dynamic `import()` in `beforeAll`).
 */

import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import {
  CreateTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  type Image,
  type Instance,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { inject } from 'vitest';
import { type GitHttpsServer, startGitHttpsServer } from './doubles/git-https-server.js';
import { attributeCallsToRole, type MotoGapProxy, startMotoGapProxy } from './doubles/moto-gap-proxy.js';
import { IamAuthorizer, stageRoleId } from './iam/authorizer.js';
import { Stack } from './iam/stack.js';
import {
  createInstanceProfile,
  DUMMY_AWS_ENV,
  MOTO_ACCOUNT_ID,
  resetMoto,
  TEST_REGION,
  useMotoEnvironment,
} from './moto.js';

/** The regions besides the stack's that the distribution test copies to (the stack allows them). */
export const DISTRIBUTION_REGIONS = ['eu-west-1', 'ap-southeast-2'] as const;
/** A customer managed key per region of the distribution test (the stack allows exactly these). */
export const DISTRIBUTION_KEYS: Readonly<Record<string, string>> = Object.fromEntries(
  [TEST_REGION, ...DISTRIBUTION_REGIONS].map((region, index) => [
    region,
    `arn:aws:kms:${region}:${MOTO_ACCOUNT_ID}:key/0000000${index}-1111-2222-3333-444444444444`,
  ]),
);

/** The account and the AWS Organizations OU the distribution tests share their images with. */
export const SHARE_ACCOUNT = '444455556666';
export const SHARE_OU = 'arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdefghij';
/** A pipeline's `DISTRIBUTION` setting: copies to {@link DISTRIBUTION_REGIONS}, shared with both. */
export const DISTRIBUTION_SETTING = {
  regions: [...DISTRIBUTION_REGIONS],
  kmsKeys: DISTRIBUTION_KEYS,
  shareWith: { accounts: [SHARE_ACCOUNT], organizationalUnits: [SHARE_OU] },
};

/** Timeout of a file's `beforeAll` (moto reset, proxy, dynamic import of the handlers): 1 minute. */
export const SETUP_TIMEOUT_MS = 60_000;

/**
 * The packaged stack as the tests deploy it: the template's stage parameters, plus the optional
 * parts switched on (an Incident Manager response plan, a token for private repositories) so
 * that their permissions are exercised too.
 */
export const STACK_PARAMETERS = {
  Alerting: 'incident-manager',
  // The distribution of tests/integration/distribution.test.ts: two regions besides the stack's,
  // a customer managed key in each of the three (DISTRIBUTION_KEYS).
  DistributionRegions: DISTRIBUTION_REGIONS.join(','),
  DistributionKmsKeyArns: Object.values(DISTRIBUTION_KEYS).join(','),
  GitTokenParameter: '/image-factory/git-token',
  // Every pipeline the integration tests build, promote or retire: the roles may only touch
  // resources tagged with one of these (a pipeline missing here shows up as an IAM refusal).
  PipelineNames: [
    'web',
    'api',
    'badprobe',
    'faulty',
    'find',
    'launch-missing',
    'never',
    'nobake',
    'offline',
    'pushed',
    'quiet',
    'rb',
    'rb2',
    'rb3',
    'rb4',
    'storm',
    'stuck',
    'victim',
    'baked',
    'other',
    'rb-foreign',
    'retry',
    'web2',
    'impostor',
    'launch',
    'online',
    'never-online',
    'terminate',
    'cleanup-probe',
    'cleanup-bystander',
    'cleanup-online',
    'cleanup-bake',
    'cleanup-promote',
    'probe-pass',
    'probe-fail',
    'probe-raw',
    'probe-timeout',
    'probe-slow',
    'conc',
    'fault',
    'fault-old',
    'base',
    'layered',
    'dist',
    'multi',
  ].join(','),
} as const;

let stack: Stack | undefined;
/** The packaged stack (`serverless package` output, made fresh by the global setup). */
export const packagedStack = (): Stack => {
  stack ??= new Stack(STACK_PARAMETERS);
  return stack;
};

/**
 * Settings that name AWS resources the roles are scoped to: the handlers get the stack's values
 * (a test cannot rename them, or IAM would be evaluated against resources the stack never names).
 */
const STACK_SCOPED_SETTINGS = [
  'STATE_MACHINE_ARN',
  'CHANNEL_PARAMETER_PREFIX',
  'LAST_SEEN_PARAMETER_PREFIX',
  'GITHUB_WEBHOOK_SECRET_PARAMETER',
  'SLACK_WEBHOOK_PARAMETER',
  'TEST_INSTANCE_PROFILE',
  'INCIDENT_RESPONSE_PLAN_ARN',
  'GIT_TOKEN_PARAMETER',
  'STAGE',
  'PROMOTION_LEDGER_TABLE',
  'EVENT_BUS_NAME',
  // The sizes the build report's cost estimate prices (`config.costDeployment`).
  'LAMBDA_MEMORY_MB',
  'BAKE_TASK_CPU',
  'BAKE_TASK_MEMORY',
  'BAKE_CPU_ARCHITECTURE',
  'BUILDER_INSTANCE_TYPE',
  'BUILDER_VOLUME_GB',
] as const;

/**
 * The stack's values of {@link STACK_SCOPED_SETTINGS} (every function has the same provider
 * environment); of another stage's stack when one is given.
 */
export const stackSettings = (
  stack: Stack = packagedStack(),
): Record<(typeof STACK_SCOPED_SETTINGS)[number], string> => {
  const environment = stack.functionEnvironment('prepare-build');
  return Object.fromEntries(STACK_SCOPED_SETTINGS.map((key) => [key, environment[key] ?? ''])) as never;
};

/**
 * The packaged stack as `serverless package --stage <stage>` would give it (see `Stack`), with the
 * same stack parameters: another stage of the factory in the same account.
 */
export const stageStack = (stage: string): Stack => new Stack(STACK_PARAMETERS, undefined, { stage });

/** The git token the stack's SecureString holds in the tests (the git server requires it). */
export const GIT_TOKEN = 'test-git-token-0123456789';

export interface AwsSide {
  /** moto's own endpoint (assertions and preparation go here). */
  readonly motoEndpoint: string;
  /** The proxy the handlers talk to. */
  readonly proxy: MotoGapProxy;
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly sfn: SFNClient;
  readonly dynamodb: DynamoDBClient;
  /** Straight to moto: the stack's SBOM bucket ({@link sbomBucket}) exists in it. */
  readonly s3: S3Client;
  /** The stack's `SbomBucket` (the name the packaged template gives it here). */
  readonly sbomBucket: string;
  /**
   * The image definition repository on a real git server (`SOURCE_REPOSITORY`, branch `main`,
   * one initial commit): what PrepareBuild resolves builds without a commit to.
   */
  readonly git: GitHttpsServer;
  /** The commit at the head of `main` when the file started. */
  readonly initialCommit: string;
  /** Close the proxy and the clients (moto itself is owned by the global setup or the caller). */
  close(): Promise<void>;
}

/** The factory's own settings (`functions/commons/config.ts`), cleared before each file sets its own. */
const FACTORY_SETTINGS = [
  'DISTRIBUTION',
  'ROLLOUT',
  'VULNERABILITY_THRESHOLD',
  'SBOM_BUCKET',
  'STATE_MACHINE_ARN',
  'CHANNEL_PARAMETER_PREFIX',
  'LAST_SEEN_PARAMETER_PREFIX',
  'DEFAULT_CHANNEL',
  'PIPELINES',
  'SOURCE_BRANCH',
  'CODECOMMIT_REPOSITORY',
  'GITHUB_WEBHOOK_SECRET_PARAMETER',
  'SLACK_WEBHOOK_PARAMETER',
  'TEST_INSTANCE_TYPE',
  'TEST_INSTANCE_TYPE_ARM64',
  'BUILDER_INSTANCE_TYPE',
  'BUILDER_INSTANCE_TYPE_ARM64',
  'ARCHITECTURES',
  'TEST_INSTANCE_PROFILE',
  'TEST_SUBNET_ID',
  'TEST_SECURITY_GROUP_IDS',
  'PROBE_COMMAND',
  'PROBE_TIMEOUT_SECONDS',
  'ONLINE_MAX_ATTEMPTS',
  'PROBE_MAX_ATTEMPTS',
  'RETENTION_MAX_AGE_DAYS',
  'RETENTION_KEEP_LATEST',
  'RETENTION_DRY_RUN',
  'INCIDENT_RESPONSE_PLAN_ARN',
  'SOURCE_REPOSITORY',
  'GIT_TOKEN_PARAMETER',
  'ALLOWED_REPOSITORIES',
  'WEBHOOK_MAX_BODY_BYTES',
  'STAGE',
  'PROMOTION_LEDGER_TABLE',
  'EVENT_BUS_NAME',
] as const;

const clientConfig = (endpoint: string) => ({
  endpoint,
  region: TEST_REGION,
  credentials: {
    accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
    secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
  },
});

/**
 * Prepare moto and the environment for one test file.
 * @param options.motoEndpoint a dedicated moto server (default: the shared one, reset first).
 * @param options.env factory settings the handlers of this file read (merged over the defaults).
 */
export const startAwsSide = async (
  options: {
    motoEndpoint?: string;
    env?: Record<string, string>;
    /** Other stages deployed in the same account: their tables, profiles and roles exist too. */
    otherStages?: readonly Stack[];
  } = {},
): Promise<AwsSide> => {
  const motoEndpoint = options.motoEndpoint ?? inject('motoEndpoint');
  const release = claimMotoServer(motoEndpoint);
  let proxy: MotoGapProxy;
  let git: GitHttpsServer;
  let initialCommit: string;
  const settings = stackSettings();
  const ec2 = new EC2Client(clientConfig(motoEndpoint));
  const ssm = new SSMClient(clientConfig(motoEndpoint));
  const sfn = new SFNClient(clientConfig(motoEndpoint));
  const dynamodb = new DynamoDBClient(clientConfig(motoEndpoint));
  const s3 = new S3Client({ ...clientConfig(motoEndpoint), forcePathStyle: true });
  // The bucket the packaged inspect-candidate function is told (SBOM_BUCKET: Ref SbomBucket).
  const sbomBucket = packagedStack().functionEnvironment('inspect-candidate').SBOM_BUCKET ?? '';
  try {
    await resetMoto(motoEndpoint);
    await s3.send(new CreateBucketCommand({ Bucket: sbomBucket }));
    const stacks = [packagedStack(), ...(options.otherStages ?? [])];
    for (const stack of stacks) {
      await createPromotionLedger(dynamodb, stack);
      for (const profile of ['TestInstanceProfile', 'BuilderInstanceProfile']) {
        await createInstanceProfile(motoEndpoint, stack.ref(profile));
      }
    }
    proxy = await startMotoGapProxy(motoEndpoint, {
      iam: new IamAuthorizer(
        packagedStack(),
        ec2,
        options.otherStages ?? [],
        (region) => harnessClients.inRegion(region, motoEndpoint).ec2,
        (region) => harnessClients.inRegion(region, motoEndpoint).autoscaling,
      ),
    });
    git = await startGitHttpsServer(inject('testTls'));
    git.requireToken(GIT_TOKEN);
    initialCommit = git.commit('main', { 'README.md': 'image definition\n' });
    await ssm.send(
      new PutParameterCommand({ Name: settings.GIT_TOKEN_PARAMETER, Value: GIT_TOKEN, Type: 'SecureString' }),
    );
  } catch (error) {
    release();
    throw error;
  }
  for (const key of STACK_SCOPED_SETTINGS) {
    const wanted = options.env?.[key];
    if (wanted !== undefined && wanted !== settings[key]) {
      release();
      throw new Error(`${key} is ${settings[key]} in the stack; a test may not rename it (got ${wanted})`);
    }
  }
  current = proxy;
  useMotoEnvironment(proxy.endpoint);
  // Start from the defaults: files may share one worker process (and its environment).
  for (const key of FACTORY_SETTINGS) delete process.env[key];
  Object.assign(process.env, {
    ...settings,
    SOURCE_REPOSITORY: git.url,
    SOURCE_BRANCH: 'main',
    SBOM_BUCKET: sbomBucket,
    ...options.env,
  });
  return {
    motoEndpoint,
    proxy,
    ec2,
    ssm,
    sfn,
    dynamodb,
    s3,
    sbomBucket,
    git,
    initialCommit,
    close: async () => {
      ec2.destroy();
      s3.destroy();
      ssm.destroy();
      sfn.destroy();
      dynamodb.destroy();
      reportBoundary(proxy);
      current = undefined;
      await proxy.close();
      await git.close();
      release();
      const refused = (proxy.iam?.decisions ?? []).filter((d) => d.result !== 'Allowed');
      if (refused.length > 0) {
        throw new Error(
          `IAM refused ${refused.length} call(s) the handlers made:\n${refused
            .map((d) => `  ${d.role} ${d.action} ${d.resource} ${d.result}${d.detail ? ` ${d.detail}` : ''}`)
            .join('\n')}`,
        );
      }
    },
  };
};

/**
 * Create the stack's state machine in moto (one hour-long Wait: its executions stay RUNNING until
 * stopped), so that the roles scoped to its ARN and its executions apply.
 * @returns its ARN, the stack's `STATE_MACHINE_ARN`.
 * @throws when moto names it otherwise.
 */
export const createStackStateMachine = async (
  aws: Pick<AwsSide, 'sfn'>,
  stack: Stack = packagedStack(),
): Promise<string> => {
  const expected = stackSettings(stack).STATE_MACHINE_ARN;
  const { stateMachineArn } = await aws.sfn.send(
    new CreateStateMachineCommand({
      name: expected.split(':').at(-1),
      definition: JSON.stringify({
        StartAt: 'Bake',
        States: { Bake: { Type: 'Wait', Seconds: 3600, End: true } },
      }),
      roleArn: 'arn:aws:iam::123456789012:role/image-factory-states',
    }),
  );
  if (stateMachineArn !== expected)
    throw new Error(`moto named the state machine ${stateMachineArn}, not ${expected}`);
  return stateMachineArn;
};

/** The stack's promotion ledger table, created in moto as CloudFormation would (key schema, TTL). */
const createPromotionLedger = async (dynamodb: DynamoDBClient, stack: Stack): Promise<void> => {
  const table = stack.properties('PromotionLedgerTable') as {
    TableName: string;
    BillingMode: 'PAY_PER_REQUEST';
    AttributeDefinitions: Array<{ AttributeName: string; AttributeType: 'S' }>;
    KeySchema: KeySchemaElement[];
    TimeToLiveSpecification: { AttributeName: string; Enabled: boolean };
  };
  await dynamodb.send(
    new CreateTableCommand({
      TableName: table.TableName,
      BillingMode: table.BillingMode,
      AttributeDefinitions: table.AttributeDefinitions,
      KeySchema: table.KeySchema,
    }),
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: table.TableName,
      TimeToLiveSpecification: table.TimeToLiveSpecification,
    }),
  );
};

/** Append the limits this file's requests were checked against to the run's report (moto-server.ts). */
const reportBoundary = (proxy: MotoGapProxy): void => {
  const path = process.env.FACTORY_BOUNDARY_REPORT;
  if (!path) return;
  const limits = [...proxy.validator.checked.values()]
    .filter((c) => c.kind !== 'required')
    .map((c) => `${c.service}:${c.operation} ${c.path} ${c.kind} ${c.bound}`);
  const refused = proxy.operations.filter((op) => op.answeredBy === 'validator').length;
  const allowed = (proxy.iam?.decisions ?? []).filter((d) => d.result === 'Allowed');
  const pairs = [...new Set(allowed.map((d) => `${d.role} ${d.action}`))];
  const denied = (proxy.iam?.decisions ?? []).length - allowed.length;
  appendFileSync(path, `${JSON.stringify({ limits, refused, pairs, denied })}\n`);
};

/**
 * Claim a moto server for this test file. Files reset the server they use, so two files must never
 * share one at the same time; vitest only serializes files when the project runs in a single worker
 * (root `fileParallelism: false` or the project's `poolOptions.forks.singleFork`). Fail fast and
 * say so, instead of failing randomly.
 * @returns the release function.
 */
const claimMotoServer = (endpoint: string): (() => void) => {
  const lock = join(tmpdir(), `factory-moto-${new URL(endpoint).port}.lock`);
  try {
    mkdirSync(lock);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new Error(
      `another test file is using the moto server at ${endpoint} at the same time: integration test files must run ` +
        'one after the other (vitest ignores a project-level fileParallelism; use poolOptions.forks.singleFork)',
    );
  }
  return () => rmSync(lock, { recursive: true, force: true });
};

/** A Lambda context good enough for Powertools' `injectLambdaContext`. */
export const lambdaContext = (functionName: string): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${TEST_REGION}:123456789012:function:${functionName}`,
  memoryLimitInMB: '256',
  awsRequestId: crypto.randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: '2026/11/21/[$LATEST]0123456789abcdef',
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/** A handler as exported by `functions/*.ts` (middy). */
export type LambdaHandler<Out = unknown> = (event: unknown, context: Context) => Promise<Out>;

/** The proxy of the file that is running (calls are attributed through it). */
let current: MotoGapProxy | undefined;
/** Each imported handler's function key, and for another stage's handler its stack and environment. */
const functionKeys = new WeakMap<object, { key: string; stack?: Stack; env?: Record<string, string> }>();

/**
 * Import `functions/<key>.ts` after {@link startAwsSide}; {@link invoke} then runs it as the role
 * the packaged stack gives that function.
 */
export const importHandler = async <Out = unknown>(
  key: string,
  stage?: { stack: Stack; env: Record<string, string> },
): Promise<LambdaHandler<Out>> => {
  const handler = (await import(`../../functions/${key}.ts`)).handler as LambdaHandler<Out>;
  functionKeys.set(handler, { key, ...stage });
  // The handlers' module-scope clients (the same modules the handlers import) name the acting role
  // in each request, so invocations that overlap are each evaluated as their own role.
  const clients = await Promise.all([
    import('#commons/clients/dynamodb.js').then((m) => m.dynamodb()),
    import('#commons/clients/ec2.js').then((m) => m.ec2()),
    import('#commons/clients/eventbridge.js').then((m) => m.eventBridge()),
    import('#commons/clients/sfn.js').then((m) => m.sfn()),
    import('#commons/clients/ssm.js').then((m) => m.ssm()),
    import('#commons/clients/ssm-incidents.js').then((m) => m.ssmIncidents()),
    import('#commons/clients/s3.js').then((m) => m.s3()),
    import('#commons/clients/inspector-scan.js').then((m) => m.inspectorScan()),
    // The per-region clients of distributed pipelines, in every region the tests use.
    ...[TEST_REGION, ...DISTRIBUTION_REGIONS].flatMap((region) => [
      import('#commons/clients/ec2.js').then((m) => m.ec2In(region)),
      import('#commons/clients/ssm.js').then((m) => m.ssmIn(region)),
      import('#commons/clients/autoscaling.js').then((m) => m.autoScalingIn(region)),
    ]),
  ]);
  for (const client of clients) attributeCallsToRole(client as never);
  return handler;
};

/** {@link importHandler} for each of `keys`, after {@link startAwsSide}: handler by function key. */
export const importHandlers = async <Out = unknown>(
  keys: readonly string[],
): Promise<Record<string, LambdaHandler<Out>>> => {
  const handlers: Record<string, LambdaHandler<Out>> = {};
  for (const key of keys) handlers[key] = await importHandler<Out>(key);
  return handlers;
};

/**
 * SDK clients per endpoint and region, made by `create` (with the dummy credentials) on first use
 * and destroyed together. `inRegion(region)` talks to moto directly (`defaultEndpoint()`, for
 * preparing and asserting); `inRegion(region, aws.proxy.endpoint)` goes through the proxy with no
 * role (the emulator's refusals).
 */
export const clientsPerRegion = <Clients extends Record<string, { destroy(): void }>>(
  create: (config: ReturnType<typeof clientConfig>) => Clients,
  defaultEndpoint: () => string,
): { inRegion: (region: string, endpoint?: string) => Clients; destroy: () => void } => {
  const pool = new Map<string, Clients>();
  return {
    inRegion: (region, endpoint = defaultEndpoint()) => {
      const key = `${endpoint}|${region}`;
      let clients = pool.get(key);
      if (!clients) {
        clients = create({ ...clientConfig(endpoint), region });
        pool.set(key, clients);
      }
      return clients;
    },
    destroy: () => {
      for (const clients of pool.values()) for (const client of Object.values(clients)) client.destroy();
      pool.clear();
    },
  };
};

/**
 * EC2 and EC2 Auto Scaling clients straight to moto in any region, for the IAM evaluation of calls
 * in other regions (startAwsSide names the endpoint; the default is the shared server).
 */
const harnessClients = clientsPerRegion(
  (config) => ({ ec2: new EC2Client(config), autoscaling: new AutoScalingClient(config) }),
  () => inject('motoEndpoint'),
);

/**
 * Invoke a handler the way Lambda does (fresh context per call), as its stack role: every AWS call
 * it makes through the proxy is evaluated against that role's policies.
 */
export const invoke = async <Out>(handler: LambdaHandler<Out>, event: unknown): Promise<Out> => {
  const entry = functionKeys.get(handler);
  if (entry === undefined)
    throw new Error('import handlers with importHandler(key) so that they run as their role');
  const stack = entry.stack ?? packagedStack();
  const logicalId = stack.functionRoles().get(entry.key);
  if (logicalId === undefined) throw new Error(`the stack has no function ${entry.key}`);
  if (current === undefined) throw new Error('startAwsSide() first');
  const role = entry.stack ? stageRoleId(entry.stack, logicalId) : logicalId;
  const name = `${stack.functionNamePrefix()}${entry.key}`;
  const run = () =>
    current?.runAs(role, () => handler(structuredClone(event), lambdaContext(name))) as Promise<Out>;
  if (entry.env === undefined) return run();
  return withEnvironment(entry.env, run);
};

/**
 * Run `action` with `env` set in `process.env`, and put the previous values back afterwards.
 * Another stage's handlers read their settings as they run, one invocation at a time.
 */
export const withEnvironment = async <T>(
  env: Record<string, string>,
  action: () => Promise<T>,
): Promise<T> => {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await action();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
};

/** Invoke and return the thrown error (fails the test when the handler succeeds). */
export const invokeExpectingError = async (handler: LambdaHandler, event: unknown): Promise<Error> => {
  try {
    await invoke(handler, event);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the handler to throw');
};

// ---- reading the emulator's state ----

/**
 * Waits until the next wall-clock second (plus 50 ms). moto dates an image to the second
 * (CreationDate `…:SS.000Z`, moto 5), and retention breaks a tie in creation time by image id: a
 * test whose retention must tell two of its builds apart by age bakes the later one after this,
 * or on a fast machine both share a second and the older may count as the newer by chance.
 */
export const nextSecond = (): Promise<void> =>
  new Promise((done) => setTimeout(done, 1_000 - (Date.now() % 1_000) + 50));

export const tagsOf = (resource: {
  Tags?: Array<{ Key?: string; Value?: string }>;
}): Record<string, string> =>
  Object.fromEntries((resource.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));

/** Every image owned by the account (moto: `Owners: self`). */
export const ownImages = async (ec2: EC2Client): Promise<Image[]> =>
  (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [];

/** One image by id, or undefined when it is gone. */
export const findImage = async (ec2: EC2Client, imageId: string): Promise<Image | undefined> => {
  try {
    return (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
  } catch (error) {
    if ((error as Error).name === 'InvalidAMIID.NotFound') return undefined;
    throw error;
  }
};

/** Ids of every snapshot that still exists. */
export const existingSnapshotIds = async (ec2: EC2Client): Promise<Set<string>> =>
  new Set(
    ((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? []).map((s) => s.SnapshotId ?? ''),
  );

/** Every instance moto knows (any state). */
export const allInstances = async (ec2: EC2Client): Promise<Instance[]> =>
  ((await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? []);

/** Instances not terminated (pending, running, stopping, stopped). */
export const liveInstances = async (ec2: EC2Client): Promise<Instance[]> =>
  (await allInstances(ec2)).filter(
    (i) => i.State?.Name !== 'terminated' && i.State?.Name !== 'shutting-down',
  );
