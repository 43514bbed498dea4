/**
 * The triggers against moto: the base-image watcher (public SSM parameters → Step Functions) and
 * the GitHub webhook (signed push → Step Functions). Executions are read back from moto's Step
 * Functions; names are the deterministic ones of `core/build-key.ts`, so a re-run or a redelivery
 * never starts a second build. The vendors' public parameters are published through the
 * PublicParameterPublisher double (moto reserves `/aws/`, MOTO-GAPS.md).
 */
import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { executionName } from '#commons/core/build-key.js';
import {
  amazonLinuxSnsEvent,
  codeCommitPushEvent,
  githubDelivery,
  pushPayload,
  scheduledEvent,
} from './fixtures/events.js';
import { FOREIGN_IMAGE, PUBLISHED } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  createStackStateMachine,
  importHandler,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
} from './harness.js';

const { LAST_SEEN_PARAMETER_PREFIX: LAST_SEEN, GITHUB_WEBHOOK_SECRET_PARAMETER: SECRET_PARAMETER } =
  stackSettings();
const SECRET = 'it-is-a-secret-to-everybody';

let aws: AwsSide;
let stateMachineArn: string;
let watch: LambdaHandler<{ results: Array<Record<string, unknown>> }>;
let webhook: LambdaHandler<{ statusCode: number; body: string }>;
let codeCommit: LambdaHandler<{ ignored: boolean; executions: Array<Record<string, unknown>> }>;

const executions = async (): Promise<ExecutionListItem[]> =>
  (await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];

const executionInput = async (name: string): Promise<unknown> => {
  const { input } = await aws.sfn.send(
    new DescribeExecutionCommand({
      executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
    }),
  );
  return JSON.parse(input ?? 'null');
};

const lastSeen = async (pipeline: string): Promise<string | undefined> => {
  try {
    return (await aws.ssm.send(new GetParameterCommand({ Name: `${LAST_SEEN}/${pipeline}` }))).Parameter
      ?.Value;
  } catch {
    return undefined;
  }
};

beforeAll(async () => {
  aws = await startAwsSide();
  // The stack's state machine: the trigger roles may start executions of that one only.
  stateMachineArn = await createStackStateMachine(aws);
  Object.assign(process.env, {
    PIPELINES: 'web=ubuntu-24.04,api=base@al2023:beta',
    SOURCE_BRANCH: 'main',
    ALLOWED_REPOSITORIES: 'acme/golden-images,arn:aws:codecommit:us-east-1:123456789012:golden-images',
    WEBHOOK_MAX_BODY_BYTES: '65536',
  });
  await aws.ssm.send(
    new PutParameterCommand({ Name: SECRET_PARAMETER, Value: SECRET, Type: 'SecureString' }),
  );
  aws.proxy.publicParameters.publish(
    BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
    PUBLISHED['ubuntu-24.04'].previous.imageId,
  );
  aws.proxy.publicParameters.publish(
    BASE_IMAGES.al2023.ssmParameters.x86_64,
    PUBLISHED.al2023.previous.imageId,
  );
  watch = await importHandler('watch-base-images');
  webhook = await importHandler('github-webhook');
  codeCommit = await importHandler('codecommit-push');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await aws?.close();
});

describe('watch-base-images', () => {
  it('starts nothing while the public parameters still name the last seen images', async () => {
    // Prepare
    for (const [pipeline, image] of [
      ['web', PUBLISHED['ubuntu-24.04'].previous.imageId],
      ['api', PUBLISHED.al2023.previous.imageId],
    ] as const) {
      await aws.ssm.send(
        new PutParameterCommand({ Name: `${LAST_SEEN}/${pipeline}`, Value: image, Type: 'String' }),
      );
    }

    // Act
    const result = await invoke(watch, scheduledEvent());

    // Assess
    expect(result.results.map((r) => [r.pipeline, r.changed])).toEqual([
      ['web', false],
      ['api', false],
    ]);
    expect(await executions()).toEqual([]);
  });

  it('starts exactly one build, with the deterministic name, when a vendor publishes a new image', async () => {
    // Prepare
    const current = PUBLISHED['ubuntu-24.04'].current.imageId;
    aws.proxy.publicParameters.publish(BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64, current);
    const name = executionName({ pipeline: 'web', channel: 'stable', sourceImageId: current });

    // Act
    const first = await invoke(watch, scheduledEvent());
    const rerun = await invoke(watch, amazonLinuxSnsEvent());

    // Assess
    expect(first.results.find((r) => r.pipeline === 'web')).toMatchObject({
      changed: true,
      started: true,
      executionName: name,
    });
    expect(rerun.results.every((r) => r.changed === false)).toBe(true);
    const started = await executions();
    expect(started.map((e) => [e.name, e.status])).toEqual([[name, 'RUNNING']]);
    expect(await executionInput(name)).toEqual({
      pipeline: 'web',
      channel: 'stable',
      trigger: 'base-image',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'web',
      sourceImageId: current,
    });
    expect(await lastSeen('web')).toBe(current);
    expect(await lastSeen('api')).toBe(PUBLISHED.al2023.previous.imageId);
  });

  it('refuses a public parameter that names an image of an untrusted owner (ForeignBaseImage)', async () => {
    // Prepare
    const before = (await executions()).length;
    aws.proxy.publicParameters.publish(
      BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
      FOREIGN_IMAGE.imageId,
    );

    // Act
    const error = await invokeExpectingError(watch, scheduledEvent());

    // Assess
    expect(error.name).toBe('ForeignBaseImage');
    expect(error.message).toContain(FOREIGN_IMAGE.ownerId);
    expect((await executions()).length).toBe(before);
    expect(await lastSeen('web')).toBe(PUBLISHED['ubuntu-24.04'].current.imageId);

    // Cleanup: the vendor's parameter is right again for the next tests.
    aws.proxy.publicParameters.publish(
      BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
      PUBLISHED['ubuntu-24.04'].current.imageId,
    );
  });
});

describe('github-webhook', () => {
  // The pushed repository is the git server of the harness (GitHub's role): the webhook reads the
  // branch head there (replay protection), with the stack's git token.
  let commit: string;
  let body: string;
  let name: string;
  let apiName: string;
  const push = (after: string, extra: Partial<Parameters<typeof pushPayload>[0]> = {}) =>
    JSON.stringify(pushPayload({ after, cloneUrl: aws.git.url, ...extra }));

  beforeAll(() => {
    commit = aws.git.commit('main', { 'ansible/site.yml': '# pushed\n' }, 'pushed change');
    body = push(commit);
    name = executionName({
      pipeline: 'web',
      channel: 'stable',
      sourceImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
      commit,
    });
    apiName = executionName({
      pipeline: 'api',
      channel: 'beta',
      sourceImageId: PUBLISHED.al2023.previous.imageId,
      commit,
    });
  });

  it('starts one build per pipeline for a signed push to the source branch', async () => {
    // Act
    const response = await invoke(webhook, githubDelivery(SECRET, body, { delivery: 'delivery-1' }));

    // Assess
    expect(response.statusCode).toBe(202);
    const names = (await executions()).map((e) => e.name);
    expect(names).toContain(name);
    expect(names).toContain(apiName);
    expect(await executionInput(name)).toEqual({
      pipeline: 'web',
      channel: 'stable',
      trigger: 'git-push',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'web',
      sourceImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
      commit,
      repository: aws.git.url,
    });
    expect(name).not.toBe(apiName);
    expect(name).toContain('-stable-');
    expect(apiName).toContain('-beta-');
  });

  it('answers a redelivery (same delivery, same body) without starting a second build', async () => {
    // Prepare
    const before = (await executions()).map((e) => e.name).sort();

    // Act
    const response = await invoke(
      webhook,
      githubDelivery(SECRET, body, { delivery: 'delivery-1', base64: true }),
    );

    // Assess
    expect([200, 202]).toContain(response.statusCode);
    expect((await executions()).map((e) => e.name).sort()).toEqual(before);
  });

  it('answers 200 for a redelivery after the build finished (ExecutionAlreadyExists is a handled no-op)', async () => {
    // Prepare
    for (const finished of [name, apiName]) {
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${finished}`;
      await aws.sfn.send(new StopExecutionCommand({ executionArn }));
    }
    const before = (await executions()).length;

    // Act
    const response = await invoke(webhook, githubDelivery(SECRET, body, { delivery: 'delivery-1' }));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({
      executions: expect.arrayContaining([
        { pipeline: 'web', architecture: 'x86_64', executionName: name, started: false },
      ]),
    });
    expect((await executions()).length).toBe(before);
  });

  it('rejects a forged or missing signature with 401 and starts nothing', async () => {
    // Prepare
    const before = (await executions()).length;
    const other = push('a'.repeat(40));

    // Act
    const forged = await invoke(webhook, githubDelivery('wrong-secret', other));
    const missing = await invoke(webhook, githubDelivery(SECRET, other, { signature: null }));

    // Assess
    expect(forged.statusCode).toBe(401);
    expect(missing.statusCode).toBe(401);
    expect((await executions()).length).toBe(before);
  });

  it('refuses a signed push from a repository not on the allow-list (403) and a body over the limit (413)', async () => {
    // Prepare
    const before = (await executions()).length;
    const foreign = push(commit, { repository: 'mallory/golden-images' });
    const huge = JSON.stringify({ ...JSON.parse(body), padding: 'x'.repeat(70_000) });

    // Act
    const refused = await invoke(webhook, githubDelivery(SECRET, foreign));
    const tooLarge = await invoke(webhook, githubDelivery(SECRET, huge, { base64: true }));

    // Assess
    expect(refused.statusCode).toBe(403);
    expect(tooLarge.statusCode).toBe(413);
    expect((await executions()).length).toBe(before);
  });

  it('never rebuilds an old commit from a replayed signed delivery once the branch moved on', async () => {
    // Prepare: a new push lands; the captured delivery of the previous one is replayed later
    const before = (await executions()).length;
    const newer = aws.git.commit('main', { 'ansible/site.yml': '# newer\n' }, 'newer change');
    aws.proxy.publicParameters.publish(
      BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
      PUBLISHED['ubuntu-24.04'].previous.imageId,
    );

    // Act: same body and delivery id, validly signed; the source AMI changed, so the name would be new
    const replay = await invoke(webhook, githubDelivery(SECRET, body, { delivery: 'delivery-1' }));

    // Assess
    expect(replay.statusCode).toBe(200);
    expect(JSON.parse(replay.body).message).toBe(`stale push ignored: main is now at ${newer}`);
    expect((await executions()).length).toBe(before);
    aws.proxy.publicParameters.publish(
      BASE_IMAGES['ubuntu-24.04'].ssmParameters.x86_64,
      PUBLISHED['ubuntu-24.04'].current.imageId,
    );
  });

  it('ignores pings, other branches, tags and deleted refs', async () => {
    // Prepare
    const before = (await executions()).length;
    const deliveries = [
      githubDelivery(SECRET, JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 }), {
        event: 'ping',
      }),
      githubDelivery(SECRET, push('b'.repeat(40), { ref: 'refs/heads/feature' })),
      githubDelivery(SECRET, push('c'.repeat(40), { ref: 'refs/tags/v1.0.0' })),
      githubDelivery(SECRET, push('0'.repeat(40), { deleted: true })),
    ];

    // Act
    const responses = [];
    for (const delivery of deliveries) responses.push(await invoke(webhook, delivery));

    // Assess
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    expect((await executions()).length).toBe(before);
  });
});

describe('codecommit-push', () => {
  const commit = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

  it('starts one build per pipeline for a push to the source branch; a replayed event starts nothing more', async () => {
    // Prepare
    const before = (await executions()).length;
    const name = executionName({
      pipeline: 'web',
      channel: 'stable',
      sourceImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
      commit,
    });

    // Act
    const first = await invoke(codeCommit, codeCommitPushEvent({ commit }));
    const replay = await invoke(codeCommit, codeCommitPushEvent({ commit }));

    // Assess
    expect(first.ignored).toBe(false);
    expect(replay.ignored).toBe(false);
    const names = (await executions()).map((e) => e.name);
    expect(names.length).toBe(before + 2);
    expect(names).toContain(name);
    expect(await executionInput(name)).toMatchObject({
      trigger: 'git-push',
      commit,
      repository: 'codecommit::us-east-1://golden-images',
    });
  });

  it('ignores a push to a repository whose ARN is not on the allow-list', async () => {
    // Prepare
    const before = (await executions()).length;

    // Act
    const result = await invoke(
      codeCommit,
      codeCommitPushEvent({ commit: 'e'.repeat(40), repository: 'scratch' }),
    );

    // Assess
    expect(result).toEqual({ ignored: true, executions: [] });
    expect((await executions()).length).toBe(before);
  });

  it('ignores pushes to other branches', async () => {
    // Prepare
    const before = (await executions()).length;

    // Act
    const result = await invoke(
      codeCommit,
      codeCommitPushEvent({ commit: 'd'.repeat(40), branch: 'feature' }),
    );

    // Assess
    expect(result).toEqual({ ignored: true, executions: [] });
    expect((await executions()).length).toBe(before);
  });
});
