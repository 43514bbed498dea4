import { createHmac } from 'node:crypto';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { executionName } from '#commons/core/build-key.js';
import { handler as codecommitPush } from '../../../functions/codecommit-push.js';
import { handler as githubWebhook } from '../../../functions/github-webhook.js';
import { handler as watchBaseImages } from '../../../functions/watch-base-images.js';
import { mockAws } from '../helpers/aws.js';
import { context, loadEvent, loadHandler } from '../helpers/lambda.js';

// The handler's configuration; the runtime's (region, Powertools) is tests/unit/setup.ts's.
vi.hoisted(() => {
  Object.assign(process.env, {
    STAGE: 'dev',
    PIPELINES: 'web=ubuntu-24.04,api=base@al2023:beta',
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:image-factory',
    GITHUB_WEBHOOK_SECRET_PARAMETER: '/image-factory/github-webhook-secret',
    LAST_SEEN_PARAMETER_PREFIX: '/image-factory/last-seen',
    SOURCE_BRANCH: 'main',
    CODECOMMIT_REPOSITORY: 'image-factory',
    ALLOWED_REPOSITORIES: 'Acme/Image-Factory, arn:aws:codecommit:eu-west-1:123456789012:image-factory',
    WEBHOOK_MAX_BODY_BYTES: '65536',
  });
});

const UBUNTU_PARAM = '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id';
const AL2023_PARAM = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const UBUNTU_AMI = 'ami-0aaaaaaaaaaaaaaaa';
const AL2023_AMI = 'ami-0eeeeeeeeeeeeeeee';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const SECRET = 'test-webhook-secret';

/** A git smart-HTTP ref advertisement naming `head` as refs/heads/main (git-revisions.ts). */
const refAdvertisement = (head: string): string => {
  const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;
  return `${pkt('# service=git-upload-pack\n')}0000${pkt(`${head} refs/heads/main\0agent=git\n`)}0000`;
};
/** The head of `main` that the repository's ref discovery answers (the pushed commit unless a test moves it). */
let branchHead = COMMIT;
const gitFetch = vi.fn(async (url: string) =>
  url === 'https://github.com/acme/image-factory.git/info/refs?service=git-upload-pack'
    ? new Response(refAdvertisement(branchHead), { status: 200 })
    : new Response('not found', { status: 404 }),
);

const ec2 = mockAws(EC2Client);
const ssm = mockAws(SSMClient);
const sfn = mockAws(SFNClient);

beforeEach(() => {
  branchHead = COMMIT;
  vi.stubGlobal('fetch', gitFetch);
  ssm.on(GetParameterCommand, { Name: UBUNTU_PARAM }).resolves({ Parameter: { Value: UBUNTU_AMI } });
  ssm.on(GetParameterCommand, { Name: AL2023_PARAM }).resolves({ Parameter: { Value: AL2023_AMI } });
  ssm
    .on(GetParameterCommand, { Name: '/image-factory/github-webhook-secret', WithDecryption: true })
    .resolves({
      Parameter: { Value: SECRET },
    });
  ec2.on(DescribeImagesCommand, { ImageIds: [UBUNTU_AMI] }).resolves({
    Images: [{ ImageId: UBUNTU_AMI, Name: 'ubuntu-noble', OwnerId: '099720109477' }],
  });
  ec2.on(DescribeImagesCommand, { ImageIds: [AL2023_AMI] }).resolves({
    Images: [{ ImageId: AL2023_AMI, Name: 'al2023-ami', OwnerId: '137112412989', ImageOwnerAlias: 'amazon' }],
  });
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: `arn:aws:states:eu-west-1:123456789012:execution:image-factory:${input.name}`,
    startDate: new Date(),
  }));
});

afterEach(() => {
  gitFetch.mockClear();
});

const alreadyExists = () =>
  Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists', $metadata: {} });
const startInputs = () => sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);

describe('watch-base-images', () => {
  it('starts a build for each pipeline whose source AMI changed and records it', async () => {
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/last-seen/web' })
      .resolves({ Parameter: { Value: 'ami-0000000000000old0' } });
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/last-seen/api' })
      .resolves({ Parameter: { Value: AL2023_AMI } });
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    const result = await watchBaseImages(loadEvent('eventbridge', 'scheduled'), context());
    expect(result.results).toEqual([
      {
        pipeline: 'web',
        architecture: 'x86_64',
        baseImage: 'ubuntu-24.04',
        sourceImageId: UBUNTU_AMI,
        changed: true,
        executionName: executionName({ pipeline: 'web', channel: 'stable', sourceImageId: UBUNTU_AMI }),
        started: true,
      },
      {
        pipeline: 'api',
        architecture: 'x86_64',
        baseImage: 'al2023',
        sourceImageId: AL2023_AMI,
        changed: false,
      },
    ]);
    const [start] = startInputs();
    expect(start?.stateMachineArn).toBe('arn:aws:states:eu-west-1:123456789012:stateMachine:image-factory');
    expect(JSON.parse(start?.input ?? '{}')).toEqual({
      pipeline: 'web',
      channel: 'stable',
      trigger: 'base-image',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'web',
      sourceImageId: UBUNTU_AMI,
    });
    expect(ssm.commandCalls(PutParameterCommand).map((call) => call.args[0].input)).toEqual([
      { Name: '/image-factory/last-seen/web', Value: UBUNTU_AMI, Type: 'String', Overwrite: true },
    ]);
  });

  it('treats ExecutionAlreadyExists as handled and still records the AMI (SNS trigger)', async () => {
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/last-seen/web' })
      .rejects(Object.assign(new Error('x'), { name: 'ParameterNotFound' }));
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/last-seen/api' })
      .rejects(Object.assign(new Error('x'), { name: 'ParameterNotFound' }));
    ssm.on(PutParameterCommand).resolves({ Version: 1 });
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    const result = await watchBaseImages(loadEvent('sns', 'al2023-ami-update'), context());
    expect(result.results.map((r) => [r.pipeline, r.changed, r.started])).toEqual([
      ['web', true, false],
      ['api', true, false],
    ]);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(2);
  });

  it('refuses a source AMI from an untrusted owner and does not record it', async () => {
    ec2
      .on(DescribeImagesCommand, { ImageIds: [UBUNTU_AMI] })
      .resolves({ Images: [{ ImageId: UBUNTU_AMI, Name: 'x', OwnerId: '666666666666' }] });
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/last-seen/api' })
      .resolves({ Parameter: { Value: AL2023_AMI } });
    await expect(watchBaseImages(loadEvent('eventbridge', 'scheduled'), context())).rejects.toMatchObject({
      name: 'ForeignBaseImage',
    });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('does not record the AMI when the start failed (retried next run)', async () => {
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/last-seen/web' })
      .resolves({ Parameter: { Value: 'ami-0000000000000old0' } });
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/last-seen/api' })
      .resolves({ Parameter: { Value: AL2023_AMI } });
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(watchBaseImages(loadEvent('eventbridge', 'scheduled'), context())).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('rejects an event that is neither a schedule nor SNS', async () => {
    await expect(watchBaseImages({ hello: 'world' }, context())).rejects.toMatchObject({
      name: 'InvalidInput',
    });
  });
});

type UrlEvent = { body: string; isBase64Encoded: boolean; headers: Record<string, string> };
const github = (variant: string) => loadEvent<UrlEvent>('github', variant);
const resign = (event: UrlEvent, body: string) => {
  event.body = body;
  event.isBase64Encoded = false;
  event.headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  return event;
};

describe('github-webhook', () => {
  it('verifies the base64-encoded push and starts one build per pipeline', async () => {
    const response = await githubWebhook(github('push'), context());
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body).executions).toEqual([
      {
        pipeline: 'web',
        architecture: 'x86_64',
        executionName: executionName({
          pipeline: 'web',
          channel: 'stable',
          sourceImageId: UBUNTU_AMI,
          commit: COMMIT,
        }),
        started: true,
      },
      {
        pipeline: 'api',
        architecture: 'x86_64',
        executionName: executionName({
          pipeline: 'api',
          channel: 'beta',
          sourceImageId: AL2023_AMI,
          commit: COMMIT,
        }),
        started: true,
      },
    ]);
    expect(JSON.parse(startInputs()[0]?.input ?? '{}')).toEqual({
      pipeline: 'web',
      channel: 'stable',
      trigger: 'git-push',
      baseImage: 'ubuntu-24.04',
      imageDefinition: 'web',
      sourceImageId: UBUNTU_AMI,
      commit: COMMIT,
      repository: 'https://github.com/acme/image-factory.git',
    });
    expect(JSON.parse(startInputs()[1]?.input ?? '{}')).toMatchObject({
      channel: 'beta',
      imageDefinition: 'base',
    });
  });

  it('answers a redelivery with 200 and no new execution', async () => {
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    const response = await githubWebhook(github('push'), context());
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).executions.every((e: { started: boolean }) => !e.started)).toBe(true);
  });

  it.each([
    ['missing', (event: UrlEvent) => delete event.headers['x-hub-signature-256']],
    ['forged', (event: UrlEvent) => (event.headers['x-hub-signature-256'] = `sha256=${'0'.repeat(64)}`)],
    [
      'truncated',
      (event: UrlEvent) =>
        (event.headers['x-hub-signature-256'] = String(event.headers['x-hub-signature-256']).slice(0, 40)),
    ],
    [
      'body tampered',
      (event: UrlEvent) => (event.body = Buffer.from('{"ref":"refs/heads/main"}').toString('base64')),
    ],
    ['base64 flag ignored', (event: UrlEvent) => (event.isBase64Encoded = false)],
  ])('rejects a %s signature with 401 and starts nothing', async (_label, tamper) => {
    const event = github('push');
    tamper(event);
    const response = await githubWebhook(event, context());
    expect(response.statusCode).toBe(401);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it.each([
    ['ping', 'pong'],
    ['tag', 'tag push ignored'],
    ['delete', 'deleted ref ignored'],
  ])('answers %s with 200 and no execution', async (variant, message) => {
    const response = await githubWebhook(github(variant), context());
    expect(response).toMatchObject({ statusCode: 200 });
    expect(JSON.parse(response.body).message).toBe(message);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('ignores pushes to other branches', async () => {
    const event = github('push');
    const payload = JSON.parse(Buffer.from(event.body, 'base64').toString('utf8'));
    payload.ref = 'refs/heads/feature-x';
    const response = await githubWebhook(resign(event, JSON.stringify(payload)), context());
    expect(JSON.parse(response.body).message).toBe('push to refs/heads/feature-x ignored');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('ignores other events and rejects a signed non-JSON body with 400', async () => {
    const other = github('ping');
    other.headers['x-github-event'] = 'issues';
    expect((await githubWebhook(other, context())).statusCode).toBe(200);
    const garbage = resign(github('ping'), 'not json');
    garbage.headers['x-github-event'] = 'push';
    expect((await githubWebhook(garbage, context())).statusCode).toBe(400);
  });

  it('refuses a body over WEBHOOK_MAX_BODY_BYTES with 413 before reading the secret', async () => {
    // Prepare: a correctly signed push padded past the 64 KiB limit of this test
    const event = github('push');
    const payload = JSON.parse(Buffer.from(event.body, 'base64').toString('utf8'));
    payload.padding = 'x'.repeat(65_536);

    // Act
    const response = await githubWebhook(resign(event, JSON.stringify(payload)), context());

    // Assess
    expect(response.statusCode).toBe(413);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a signed push from a repository that is not on the allow-list with 403', async () => {
    // Prepare
    const event = github('push');
    const payload = JSON.parse(Buffer.from(event.body, 'base64').toString('utf8'));
    payload.repository.full_name = 'mallory/image-factory';
    payload.repository.clone_url = 'https://github.com/mallory/image-factory.git';

    // Act
    const response = await githubWebhook(resign(event, JSON.stringify(payload)), context());

    // Assess
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body).message).toBe('repository mallory/image-factory is not allowed');
    expect(gitFetch).not.toHaveBeenCalled();
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('ignores a replayed old delivery: its commit is no longer the head of the branch', async () => {
    // Prepare: the branch moved on since the (validly signed) delivery was captured
    branchHead = 'f'.repeat(40);

    // Act
    const response = await githubWebhook(github('push'), context());

    // Assess
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).message).toBe(`stale push ignored: main is now at ${'f'.repeat(40)}`);
    expect(gitFetch).toHaveBeenCalledTimes(1);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('fails (5xx) when the secret cannot be read, so GitHub can redeliver', async () => {
    const handler = await loadHandler('github-webhook'); // a cold module: no cached secret
    ssm
      .on(GetParameterCommand, { Name: '/image-factory/github-webhook-secret', WithDecryption: true })
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(handler(github('push'), context())).rejects.toMatchObject({
      name: 'GetParameterError',
      message: 'denied',
    });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('codecommit-push', () => {
  it('starts builds for a new branch (referenceCreated) as for a push (referenceUpdated)', async () => {
    const event = loadEvent<{ detail: Record<string, unknown> }>('codecommit', 'reference-updated');
    event.detail.event = 'referenceCreated';
    const result = await codecommitPush(event, context());
    expect(result.ignored).toBe(false);
    expect(result.executions).toHaveLength(2);
  });

  it('starts builds for referenceUpdated on the configured branch', async () => {
    const result = await codecommitPush(loadEvent('codecommit', 'reference-updated'), context());
    expect(result.ignored).toBe(false);
    expect(result.executions.map((e) => e.pipeline)).toEqual(['web', 'api']);
    expect(JSON.parse(startInputs()[0]?.input ?? '{}')).toMatchObject({
      trigger: 'git-push',
      commit: COMMIT,
      repository: 'codecommit::eu-west-1://image-factory',
    });
  });

  it.each([
    ['another branch', { referenceName: 'develop' }],
    ['a tag', { referenceType: 'tag' }],
    ['a deleted reference', { event: 'referenceDeleted' }],
    ['another repository', { repositoryName: 'other-repo' }],
  ])('ignores %s', async (_label, change) => {
    const event = loadEvent<{ detail: Record<string, unknown> }>('codecommit', 'reference-updated');
    Object.assign(event.detail, change);
    await expect(codecommitPush(event, context())).resolves.toEqual({ ignored: true, executions: [] });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('ignores a repository whose ARN is not on the allow-list (another account, same name)', async () => {
    // Prepare
    const event = loadEvent<{ resources: string[] }>('codecommit', 'reference-updated');
    event.resources = ['arn:aws:codecommit:eu-west-1:210987654321:image-factory'];

    // Act
    const result = await codecommitPush(event, context());

    // Assess
    expect(result).toEqual({ ignored: true, executions: [] });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('rejects an event of another source', async () => {
    const event = loadEvent<Record<string, unknown>>('codecommit', 'reference-updated');
    event.source = 'aws.ec2';
    await expect(codecommitPush(event, context())).rejects.toMatchObject({ name: 'InvalidInput' });
  });
});
