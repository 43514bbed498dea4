/**
 * The operator CLI (`cli/`, issue 11 point 1) against moto, as an operator runs it: `runCli` in
 * this process (one test runs the `bin` entry in a child process), its AWS calls through the
 * MotoGapProxy with the operator's (dummy) credentials, as no stack role.
 *
 * What the stack gives the CLI is made in moto as CloudFormation would have made it: a stack named
 * `golden-image-factory-<stage>` whose outputs are the packaged template's outputs resolved
 * (`Stack.outputs()`), and the ApplyRetention and sweeper functions with the packaged environment
 * (two stage parameters set as a stage would: the pipelines, and a 0-minute sweeper grace period).
 *
 * Executions: moto cannot run Lambda tasks (no containers), but its state machine interpreter runs
 * Pass, Wait, Choice, Succeed and Fail states when `execute_state_machine` is on (switched on for
 * this file only) and records the history Step Functions records (`…StateEntered`, `…StateExited`,
 * `ExecutionFailed`, …). The stack's state machine here is therefore a stand-in with the pipeline's
 * state names and shape: a successful path, and a failing one (channel `broken`) that records a
 * `ProbeFailed` error and goes through `CleanupAfterFailure`, as the real ASL does.
 */
import { spawn } from 'node:child_process';
import { crc32, deflateRawSync } from 'node:zlib';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '#cli/main.js';
import { DynamoDbPromotionLedger } from '#commons/aws/dynamodb-promotion-ledger.js';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { buildId, executionArnOf, executionName } from '#commons/core/build-key.js';
import { promotionLeaseKey } from '#commons/core/promotion-lease.js';
import {
  bakeCandidate,
  bakeImageLikePacker,
  sbomFixture,
  uploadSbomLikeRunner,
} from './doubles/packer-bake-double.js';
import { buildDocument } from './fixtures/build.js';
import { PUBLISHED } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  findImage,
  importHandler,
  invoke,
  type LambdaHandler,
  packagedStack,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';
import { REPO_ROOT } from './iam/stack.js';
import { DUMMY_AWS_ENV, MOTO_ACCOUNT_ID, TEST_REGION } from './moto.js';

const settings = stackSettings();
const STAGE = settings.STAGE;
const PREFIX = settings.CHANNEL_PARAMETER_PREFIX;
const STATE_MACHINE_ARN = settings.STATE_MACHINE_ARN;
const SOURCE = PUBLISHED['ubuntu-24.04'].current;

let aws: AwsSide;
let promote: LambdaHandler<Record<string, unknown>>;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `factory <args>` against the moto stack, as an operator in us-east-1. */
const factory = async (...args: string[]): Promise<Run> => {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--region', TEST_REGION, ...args], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: process.env,
    interactive: false,
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
};

/** `start` of pipeline web on Ubuntu 24.04 (options follow). */
const START_WEB = ['start', '--pipeline', 'web', '--base-image', 'ubuntu-24.04'] as const;

const json = <T>(run: Run): T => JSON.parse(run.stdout) as T;

/** moto's runtime configuration (`/moto-api/config`): shared by every file, so restored after this one. */
const motoConfig = async (config: Record<string, unknown>): Promise<void> => {
  const response = await fetch(`${aws.motoEndpoint}/moto-api/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  if (!response.ok) throw new Error(`moto config failed: HTTP ${response.status}`);
};

/** IAM `CreateRole` in moto (Lambda refuses a role that does not exist); a Query call, no IAM client. */
const createRole = async (name: string): Promise<string> => {
  const response = await fetch(aws.motoEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${TEST_REGION}/iam/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({
      Action: 'CreateRole',
      Version: '2010-05-08',
      RoleName: name,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  });
  if (!response.ok) throw new Error(`CreateRole ${name}: HTTP ${response.status} ${await response.text()}`);
  return `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/${name}`;
};

/** Little-endian fields of `[bytes, value]`, as zip headers are laid out. */
const fields = (values: ReadonlyArray<readonly [2 | 4, number]>): Buffer => {
  const buffer = Buffer.alloc(values.reduce((sum, [size]) => sum + size, 0));
  let offset = 0;
  for (const [size, value] of values) {
    offset = size === 2 ? buffer.writeUInt16LE(value, offset) : buffer.writeUInt32LE(value, offset);
  }
  return buffer;
};

/** A zip archive of one deflated file (what a function's code is; APPNOTE 4.3.7, 4.3.12, 4.3.16). */
const zipOf = (name: string, content: string): Uint8Array => {
  const data = Buffer.from(content);
  const packed = deflateRawSync(data);
  const file = Buffer.from(name);
  // crc-32, compressed size, uncompressed size, name length: shared by both headers.
  const sizes = [
    [4, crc32(data)],
    [4, packed.length],
    [4, data.length],
    [2, file.length],
  ] as const;
  // signature, version needed, flags, method 8 (deflate), time, date, …, extra length.
  const local = fields([[4, 0x04034b50], [2, 20], [2, 0], [2, 8], [2, 0], [2, 0], ...sizes, [2, 0]]);
  // … plus version made by, comment length, disk, attributes, offset of the local header.
  const central = fields([
    [4, 0x02014b50],
    [2, 20],
    [2, 20],
    [2, 0],
    [2, 8],
    [2, 0],
    [2, 0],
    ...sizes,
    [2, 0],
    [2, 0],
    [2, 0],
    [2, 0],
    [4, 0],
    [4, 0],
  ]);
  const directory = central.length + file.length;
  const end = fields([
    [4, 0x06054b50],
    [2, 0],
    [2, 0],
    [2, 1],
    [2, 1],
    [4, directory],
    [4, local.length + file.length + packed.length],
    [2, 0],
  ]);
  return Buffer.concat([local, file, packed, central, file, end]);
};

/** The stack's function `key`, with the packaged environment and `overrides` (stage parameters). */
const createStackFunction = async (lambda: LambdaClient, key: string, overrides: Record<string, string>) => {
  const stack = packagedStack();
  const role = await createRole(stack.functionRoles().get(key) as string);
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: `${stack.functionNamePrefix()}${key}`,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: `${key}.handler`,
      Role: role,
      Code: { ZipFile: zipOf(`${key}.mjs`, 'export const handler = async () => ({});\n') },
      Environment: { Variables: { ...stack.functionEnvironment(key), ...overrides } },
    }),
  );
};

/** A stand-in of the pipeline (state names and failure path of the ASL) that moto can run. */
const STAND_IN = {
  StartAt: 'PrepareBuild',
  States: {
    PrepareBuild: { Type: 'Pass', Result: { buildId: 'stand-in' }, ResultPath: '$.build', Next: 'BakeImage' },
    BakeImage: { Type: 'Wait', Seconds: 1, Next: 'FindCandidateImage' },
    FindCandidateImage: { Type: 'Pass', ResultPath: null, Next: 'IsProbeComplete' },
    IsProbeComplete: {
      Type: 'Choice',
      Choices: [{ Variable: '$.channel', StringEquals: 'broken', Next: 'ProbeFailed' }],
      Default: 'PromoteImage',
    },
    ProbeFailed: {
      Type: 'Pass',
      Parameters: { Error: 'ProbeFailed', Cause: 'check web-health failed: nginx inactive' },
      ResultPath: '$.error',
      Next: 'CleanupAfterFailure',
    },
    CleanupAfterFailure: { Type: 'Pass', ResultPath: null, Next: 'PipelineFailed' },
    PipelineFailed: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
    PromoteImage: {
      Type: 'Pass',
      Result: { imageId: 'ami-0123456789abcdef0' },
      ResultPath: '$.promotion',
      Next: 'NotifySuccess',
    },
    NotifySuccess: { Type: 'Pass', ResultPath: null, Next: 'PipelineSucceeded' },
    PipelineSucceeded: { Type: 'Succeed' },
  },
};

beforeAll(async () => {
  aws = await startAwsSide();
  promote = await importHandler('promote-image');
  await motoConfig({ stepfunctions: { execute_state_machine: true } });
  const direct = {
    endpoint: aws.motoEndpoint,
    region: TEST_REGION,
    credentials: {
      accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    },
  };
  const cloudFormation = new CloudFormationClient(direct);
  const lambda = new LambdaClient(direct);
  try {
    const outputs = packagedStack().outputs();
    await cloudFormation.send(
      new CreateStackCommand({
        StackName: `golden-image-factory-${STAGE}`,
        TemplateBody: JSON.stringify({
          Resources: {
            Marker: {
              Type: 'AWS::SSM::Parameter',
              Properties: { Name: '/cli-test/stack', Type: 'String', Value: 'deployed' },
            },
          },
          Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
        }),
      }),
    );
    const pipelines = { PIPELINES: 'web=ubuntu-24.04,api=base@al2023:beta' };
    await createStackFunction(lambda, 'apply-retention', pipelines);
    await createStackFunction(lambda, 'sweep-leftovers', { ...pipelines, SWEEPER_GRACE_MINUTES: '0' });
  } finally {
    cloudFormation.destroy();
    lambda.destroy();
  }
  const { stateMachineArn } = await aws.sfn.send(
    new CreateStateMachineCommand({
      name: STATE_MACHINE_ARN.split(':').at(-1),
      definition: JSON.stringify(STAND_IN),
      roleArn: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/image-factory-states`,
    }),
  );
  if (stateMachineArn !== STATE_MACHINE_ARN)
    throw new Error(`moto named the state machine ${stateMachineArn}`);
  aws.proxy.publicParameters.publish(BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64, SOURCE.imageId);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (aws) await motoConfig({ stepfunctions: { execute_state_machine: false } });
  await aws?.close();
});

const bake = (pipeline: string, commit: string, channel = 'stable') =>
  bakeCandidate(aws.ec2, buildDocument({ pipeline, channel, commit }));

const channelTag = async (imageId: string): Promise<string | undefined> =>
  tagsOf((await findImage(aws.ec2, imageId)) ?? {})['factory:channel'];

const pointerHistory = async (pipeline: string, channel: string): Promise<string[]> =>
  (
    (await aws.ssm.send(new GetParameterHistoryCommand({ Name: `${PREFIX}/${pipeline}/${channel}` })))
      .Parameters ?? []
  ).map((p) => p.Value ?? '');

const leaseItem = async (pipeline: string, channel: string) =>
  (
    await aws.dynamodb.send(
      new GetItemCommand({
        TableName: settings.PROMOTION_LEDGER_TABLE,
        Key: { pk: { S: promotionLeaseKey(STAGE, pipeline, channel) } },
      }),
    )
  ).Item;

interface ImagesJson {
  images: Array<{
    pipeline: string;
    channel: string;
    position: string;
    imageId: string;
    architecture?: string;
    buildId?: string;
    commit?: string;
    sourceImageId?: string;
  }>;
  withoutChannels: string[];
}

describe('channels: images, rollback, promote', () => {
  let a: Awaited<ReturnType<typeof bake>>;
  let b: Awaited<ReturnType<typeof bake>>;
  let c: Awaited<ReturnType<typeof bake>>;

  beforeAll(async () => {
    a = await bake('web', 'a'.repeat(40));
    b = await bake('web', 'b'.repeat(40));
    c = await bake('web', 'c'.repeat(40));
    for (const baked of [a, b, c]) await invoke(promote, baked);
  });

  it('images: the current and previous image of each channel, with build id, commit and source AMI', async () => {
    // Act
    const text = await factory('images');
    const machine = await factory('images', '--json');

    // Assess
    expect(text.code, text.stderr).toBe(0);
    expect(machine.code).toBe(0);
    const rows = json<ImagesJson>(machine).images.filter((row) => row.pipeline === 'web');
    expect(rows).toEqual([
      expect.objectContaining({
        channel: 'stable',
        position: 'current',
        imageId: c.candidate.imageId,
        buildId: c.build.buildId,
        commit: 'c'.repeat(40),
        sourceImageId: SOURCE.imageId,
      }),
      expect.objectContaining({ channel: 'stable', position: 'previous', imageId: b.candidate.imageId }),
    ]);
    expect(json<ImagesJson>(machine).withoutChannels).toEqual(['api (us-east-1)']);
    expect(text.stdout).toContain(c.candidate.imageId);
    // moto's RegisterImage drops Architecture (MOTO-GAPS.md): the column shows "-" here.
    expect(text.stdout).toMatch(/web\s+stable\s+us-east-1\s+-\s+current/);
    expect(text.stdout).toContain('api (us-east-1): no channel promoted yet');
  });

  it('rollback: the channel goes back to its previous image under the lease, which is released', async () => {
    // Act
    const run = await factory('rollback', '--pipeline', 'web', '--channel', 'stable');

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `rolled back: web/stable → ${b.candidate.imageId} (withdrawn ${c.candidate.imageId}`,
    );
    expect(await pointerHistory('web', 'stable')).toEqual([
      a.candidate.imageId,
      b.candidate.imageId,
      c.candidate.imageId,
      b.candidate.imageId,
    ]);
    expect(await channelTag(c.candidate.imageId)).toBe('rolled-back');
    expect(await leaseItem('web', 'stable')).toBeUndefined();
  });

  it('promote: rolls the channel forward to the newer, withdrawn image', async () => {
    // Act
    const run = await factory('promote', c.candidate.imageId, '--channel', 'stable', '--json');

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(json(run)).toMatchObject({
      outcome: 'promoted',
      pipeline: 'web',
      imageId: c.candidate.imageId,
      previousImageId: b.candidate.imageId,
      parameterVersion: 5,
    });
    expect(await channelTag(c.candidate.imageId)).toBe('stable');
    expect(await channelTag(b.candidate.imageId)).toBe('previous-stable');
    expect(await leaseItem('web', 'stable')).toBeUndefined();
  });

  it('promote refuses an older image (pointing at the rollback), a candidate and another channel’s image; nothing changes', async () => {
    // Prepare
    const candidate = await bake('web', 'd'.repeat(40));
    const beta = await bake('web', 'e'.repeat(40), 'beta');
    await invoke(promote, beta);
    const before = await pointerHistory('web', 'stable');

    // Act
    const older = await factory('promote', a.candidate.imageId, '--channel', 'stable');
    const unpromoted = await factory('promote', candidate.candidate.imageId, '--channel', 'stable');
    const otherChannel = await factory('promote', beta.candidate.imageId, '--channel', 'stable');

    // Assess
    expect(older.code).toBe(2);
    expect(older.stderr).toContain(
      `image ${a.candidate.imageId} is not newer than the current image of web/stable`,
    );
    expect(older.stderr).toContain(
      `factory rollback --pipeline web --channel stable --image ${a.candidate.imageId}`,
    );
    expect(unpromoted.code).toBe(2);
    expect(unpromoted.stderr).toContain('unpromoted candidate');
    expect(otherChannel.code).toBe(2);
    expect(otherChannel.stderr).toContain('serves channel beta');
    expect(await pointerHistory('web', 'stable')).toEqual(before);
    expect(await channelTag(a.candidate.imageId)).toBe('retired');
    expect(await channelTag(candidate.candidate.imageId)).toBe('candidate');
  });

  it('rollback while another promotion holds the lease: refused with who holds it, nothing moves', async () => {
    // Prepare
    const ledger = new DynamoDbPromotionLedger(() => aws.dynamodb, settings.PROMOTION_LEDGER_TABLE, STAGE);
    await ledger.acquire('web', 'stable', 'web-stable-running-build', 600);
    const before = await pointerHistory('web', 'stable');

    // Act
    const run = await factory('rollback', '--pipeline', 'web', '--channel', 'stable');
    await ledger.release('web', 'stable', 'web-stable-running-build');

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is held by web-stable-running-build');
    expect(run.stderr).toContain('try again when it has finished');
    expect(await pointerHistory('web', 'stable')).toEqual(before);
  });

  it('retention plan: each image with its decision and reason, from the stage’s settings; nothing deregistered', async () => {
    // Act
    const command = ['retention', 'plan', '--pipeline', 'web', '--max-age-days', '0', '--keep-latest', '1'];
    const run = await factory(...command, '--json');
    const text = await factory(...command);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const [plan] = json<{
      plans: Array<{
        pipeline: string;
        dryRun: boolean;
        outcomes: Array<{ imageId: string; action: string; reason: string; outcome: string }>;
      }>;
    }>(run).plans;
    expect(plan?.dryRun).toBe(true);
    const decision = (imageId: string) => plan?.outcomes.find((o) => o.imageId === imageId);
    expect(decision(c.candidate.imageId)).toMatchObject({ action: 'keep', reason: 'current' });
    expect(decision(b.candidate.imageId)).toMatchObject({ action: 'keep', reason: 'previous' });
    expect(decision(a.candidate.imageId)).toMatchObject({
      action: 'deregister',
      reason: 'expired',
      outcome: 'planned',
    });
    expect(await findImage(aws.ec2, a.candidate.imageId)).toBeDefined();
    expect(text.stdout).toContain('retention plan (dry run, nothing changed)');
    expect(text.stdout).toMatch(new RegExp(`${a.candidate.imageId}.*retired.*deregister.*expired`));
  });
});

describe('sweep --dry-run', () => {
  it("lists what an ended build of this stage left behind and removes nothing; another state machine's build is not listed", async () => {
    // Prepare: a candidate of an execution of this stage that no longer exists, one of another state machine's
    const name = executionName({
      pipeline: 'web',
      channel: 'stable',
      sourceImageId: SOURCE.imageId,
      commit: 'f'.repeat(40),
    });
    const own = await bakeImageLikePacker(aws.ec2, {
      buildId: buildId({ pipeline: 'web', executionArn: executionArnOf(STATE_MACHINE_ARN, name) }),
      pipeline: 'web',
      executionName: name,
      sourceImageId: SOURCE.imageId,
      sourceImageName: SOURCE.name,
      commit: 'f'.repeat(40),
    });
    const foreign = await bake('web', '9'.repeat(40));

    // Act
    const run = await factory('sweep', '--dry-run', '--json');
    const text = await factory('sweep', '--dry-run');

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const report = json<{
      dryRun: boolean;
      outcomes: Array<{ id: string; outcome: string; reason: string }>;
    }>(run);
    expect(report.dryRun).toBe(true);
    expect(report.outcomes).toContainEqual(
      expect.objectContaining({ id: own.imageId, outcome: 'planned', reason: 'leftover' }),
    );
    expect(report.outcomes.map((o) => o.id)).not.toContain(foreign.candidate.imageId);
    expect(await findImage(aws.ec2, own.imageId)).toBeDefined();
    expect(text.stdout).toMatch(new RegExp(`image\\s+${own.imageId}.*remove\\s+leftover`));
  });
});

describe('start, status, list', () => {
  it('refuses an invalid input with the schema’s message before anything is sent', async () => {
    // Act
    const missing = await factory('start', '--pipeline', 'web');
    const typo = await factory(
      'start',
      '--input',
      '{"pipeline":"web","baseImage":"ubuntu-24.04","baseimage":"x"}',
    );
    const badDefinition = await factory('start', '--pipeline', 'nope', '--base-image', 'ubuntu-24.04');

    // Assess
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      'invalid execution input: baseImage: baseImage is required and must be one of',
    );
    expect(missing.stderr).toContain('nothing was sent or changed');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('baseimage');
    expect(badDefinition.code).toBe(2);
    expect(badDefinition.stderr).toContain('unknown image definition "nope"');
    const { executions } = await aws.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN }),
    );
    expect(executions ?? []).toEqual([]);
  });

  it('starts a build, prints its name and follows it state by state to SUCCEEDED (exit 0)', async () => {
    // Act
    const run = await factory(...START_WEB, '--poll-seconds', '0.2');

    // Assess
    const name = executionName({ pipeline: 'web', channel: 'stable', sourceImageId: SOURCE.imageId });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`execution ${name}\n`);
    const states = [...run.stdout.matchAll(/^\[\s*[\d.]+ s\] ✔ (\w+)/gm)].map((m) => m[1]);
    expect(states).toEqual([
      'PrepareBuild',
      'BakeImage',
      'FindCandidateImage',
      'PromoteImage',
      'NotifySuccess',
      'PipelineSucceeded',
    ]);
    expect(run.stdout).toMatch(/BakeImage\s+1\.\d s/);
    expect(run.stdout).toMatch(/^SUCCEEDED in \d+\.\d s$/m);
  });

  it('follows a failing build to FAILED with the failing state and error (exit 1)', async () => {
    // Act
    const run = await factory(...START_WEB, '--channel', 'broken', '--poll-seconds', '0.2');

    // Assess
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('✔ ProbeFailed');
    expect(run.stdout).toContain('✔ CleanupAfterFailure');
    expect(run.stdout).toMatch(
      /^FAILED in .* at ProbeFailed: ProbeFailed — check web-health failed: nginx inactive$/m,
    );
  });

  it('a second start of the same build is refused and says how to rebuild it; --no-follow returns at once', async () => {
    // Act
    const again = await factory(...START_WEB);
    const rebuild = await factory(...START_WEB, '--attempt', '2', '--no-follow', '--json');

    // Assess
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect(again.stderr).toContain('--attempt 2');
    expect(rebuild.code).toBe(0);
    expect(json(rebuild)).toMatchObject({
      name: executionName({ pipeline: 'web', channel: 'stable', sourceImageId: SOURCE.imageId, attempt: 2 }),
    });
  });

  it('start --parent: a layered build is named after the image the parent channel names; an empty parent channel starts nothing', async () => {
    // Prepare: web/stable names an image (promoted above).
    const { Parameter } = await aws.ssm.send(new GetParameterCommand({ Name: `${PREFIX}/web/stable` }));
    const parentImage = Parameter?.Value ?? '';

    // Act
    const layered = await factory('start', '--pipeline', 'base', '--parent', 'web', '--no-follow', '--json');
    const empty = await factory('start', '--pipeline', 'base', '--parent', 'web/nothing', '--no-follow');

    // Assess
    expect(parentImage).toMatch(/^ami-/);
    expect(layered.code, layered.stderr).toBe(0);
    const name = executionName({ pipeline: 'base', channel: 'stable', sourceImageId: parentImage });
    expect(json(layered)).toMatchObject({ name, pipeline: 'base' });
    const described = await aws.sfn.send(
      new DescribeExecutionCommand({ executionArn: executionArnOf(STATE_MACHINE_ARN, name) }),
    );
    expect(JSON.parse(described.input ?? '{}')).toEqual({
      pipeline: 'base',
      channel: 'stable',
      trigger: 'manual',
      parent: { pipeline: 'web', channel: 'stable' },
    });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('channel web/nothing');
    expect(empty.stderr).toContain('names no image');
  });

  it('status: an execution by name, with time per state, failing state and error', async () => {
    // Prepare
    const name = executionName({ pipeline: 'web', channel: 'broken', sourceImageId: SOURCE.imageId });

    // Act
    const run = await factory('status', name, '--json');
    const text = await factory('status', name);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(json(run)).toMatchObject({
      name,
      status: 'FAILED',
      pipeline: 'web',
      channel: 'broken',
      failingState: 'ProbeFailed',
      error: 'ProbeFailed',
      states: expect.arrayContaining([expect.objectContaining({ state: 'BakeImage', entries: 1 })]),
    });
    expect(text.stdout).toMatch(/^failing state\s+ProbeFailed$/m);
    expect(text.stdout).toMatch(/BakeImage\s+1\.\d s\s+1/);
  });

  it('status: the estimated cost at the sizes of the stack’s environment, the promoted image and its console link', async () => {
    // Prepare: the stand-in's BakeImage waits 1 s (billed one minute), it launches no test instance.
    const broken = executionName({ pipeline: 'web', channel: 'broken', sourceImageId: SOURCE.imageId });
    const promoted = executionName({ pipeline: 'web', channel: 'stable', sourceImageId: SOURCE.imageId });

    // Act
    const failed = await factory('status', broken, '--json');
    const succeeded = await factory('status', promoted);

    // Assess: one minute of a 1 vCPU / 2 GB x86 task and of a t3.small, at the list prices.
    expect(failed.code, failed.stderr).toBe(0);
    const cost = json<{ cost: { total: number; items: Record<string, number>; unpriced: string[] } }>(
      failed,
    ).cost;
    expect(cost.items.Fargate).toBeCloseTo((60 / 3600) * (0.04048 + 2 * 0.004445), 12);
    expect(cost.items['EC2 builder']).toBeCloseTo((60 / 3600) * 0.0208, 12);
    expect(cost.items['EC2 test']).toBe(0);
    expect(cost.unpriced).toEqual([]);
    expect(cost.total).toBeCloseTo(
      Object.values(cost.items).reduce((sum, usd) => sum + usd, 0),
      12,
    );
    expect(succeeded.code, succeeded.stderr).toBe(0);
    expect(succeeded.stdout).toMatch(/^ESTIMATED COST\s+USD$/m);
    expect(succeeded.stdout).toMatch(/^Fargate\s+\$0\.0008$/m);
    expect(succeeded.stdout).toMatch(/^total\s+\$0\.\d{4}$/m);
    expect(succeeded.stdout).toContain('at us-east-1 list prices');
    expect(succeeded.stdout).toMatch(/^image\s+ami-0123456789abcdef0$/m);
    expect(succeeded.stdout).toContain(
      `image console https://${TEST_REGION}.console.aws.amazon.com/ec2/home?region=${TEST_REGION}#ImageDetails:imageId=ami-0123456789abcdef0\n`,
    );
  });

  it('list: recent executions per pipeline with outcome, duration and failing state', async () => {
    // Act
    const run = await factory('list', '--json');
    const text = await factory('list', '--pipeline', 'web');

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const rows =
      json<Array<{ channel: string; status: string; failingState?: string; seconds?: number }>>(run);
    expect(rows).toContainEqual(
      expect.objectContaining({ channel: 'broken', status: 'FAILED', failingState: 'ProbeFailed' }),
    );
    expect(rows).toContainEqual(expect.objectContaining({ channel: 'stable', status: 'SUCCEEDED' }));
    expect(rows.every((row) => row.seconds !== undefined)).toBe(true);
    expect(text.stdout).toMatch(/web\s+broken\s+\S+\s+FAILED\s+.*ProbeFailed\s+ProbeFailed/);
  });
});

describe('diff', () => {
  it('prints the package changes between two images from their SBOMs in the stack`s bucket; --json', async () => {
    // Prepare: two builds of web, each with its SBOM uploaded and tagged as the runner does.
    const baked = [];
    for (const [n, fixture] of [
      [1, 'syft-debian12-before.cdx.json'],
      [2, 'syft-debian12-after.cdx.json'],
    ] as const) {
      const build = buildDocument({ pipeline: 'web', commit: String(n).repeat(40) });
      const image = await bakeImageLikePacker(aws.ec2, build);
      await uploadSbomLikeRunner(
        aws.ec2,
        { s3: aws.s3, bucket: aws.sbomBucket, document: sbomFixture(fixture) },
        { imageId: image.imageId, pipeline: 'web', buildId: `${build.buildId}-${n}` },
      );
      baked.push(image.imageId);
    }
    const [a = '', b = ''] = baked;
    const unsbomed = await bakeImageLikePacker(
      aws.ec2,
      buildDocument({ pipeline: 'web', commit: '9'.repeat(40) }),
    );

    // Act
    const text = await factory('diff', a, b);
    const asJson = await factory('--json', 'diff', a, b);
    const without = await factory('diff', unsbomed.imageId, b);

    // Assess
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`${a} → ${b}: 1 added, 1 removed, 1 upgraded, 1 downgraded (37 unchanged)`);
    expect(text.stdout).toMatch(/^upgraded\s+openssl:amd64\s+3\.0\.19-1~deb12u2\s+3\.0\.20-1~deb12u1$/m);
    expect(json<{ added: Array<{ name: string }>; from: { sbom: string } }>(asJson)).toMatchObject({
      added: [{ name: 'nginx' }],
      from: { sbom: expect.stringMatching(new RegExp(`^s3://${aws.sbomBucket}/sboms/web/`)) },
    });
    expect(without.code).toBe(1);
    expect(without.stderr).toContain(`image ${unsbomed.imageId} has no SBOM (no factory:sbom tag)`);
    expect(without.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('errors say what is wrong and what to do', () => {
  it('a stage that is not deployed, a missing region, sweep without --dry-run, diff, a bad image id', async () => {
    // Act
    const noStack = await factory('--stage', 'nowhere', 'images');
    let stderr = '';
    const noRegion = await runCli(['images'], {
      stdout: () => undefined,
      stderr: (text) => {
        stderr += text;
      },
      env: {},
      interactive: false,
      signal: new AbortController().signal,
    });
    const sweep = await factory('sweep');
    const diff = await factory('diff', 'ami-0123456789abcdef0', 'ami-0123456789abcdef1');
    const badImage = await factory('promote', 'web-image', '--channel', 'stable');

    // Assess
    expect(noStack.code).toBe(1);
    expect(noStack.stderr).toBe(
      'factory: stack golden-image-factory-nowhere does not exist in us-east-1\n' +
        '  → deploy it (npx serverless deploy --stage nowhere --region us-east-1), or pass the --stage, --region or --stack it was deployed with, or use --local\n',
    );
    expect(noRegion).toBe(2);
    expect(stderr).toContain('no AWS region');
    expect(sweep.code).toBe(2);
    expect(sweep.stderr).toContain('sweep needs --dry-run');
    expect(diff.code).toBe(1);
    expect(diff.stderr).toContain(
      'factory: image ami-0123456789abcdef0 is not an image of stack golden-image-factory-dev in us-east-1',
    );
    expect(badImage.code).toBe(2);
    expect(badImage.stderr).toContain('must be an image id');
    for (const run of [noStack, sweep, diff, badImage]) expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('the bin entry (npx factory) runs in its own process: --json images, exit status 0', async () => {
    // Act: asynchronously, so that this process (where the proxy runs) keeps answering
    const child = spawn(
      process.execPath,
      ['cli/bin.mjs', '--json', 'images', '--region', TEST_REGION, '--pipeline', 'web'],
      { cwd: REPO_ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 50_000);
    const status = await new Promise<number | null>((done) => child.on('close', done));
    clearTimeout(guard);

    // Assess
    expect(status, stderr).toBe(0);
    expect((JSON.parse(stdout) as ImagesJson).images.map((row) => row.pipeline)).toContain('web');
  });
});
