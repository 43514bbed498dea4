import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockAws } from '../helpers/aws.js';
import { context, loadEvent, loadHandler } from '../helpers/lambda.js';

/** The settings the notify functions get from serverless.yml (cost settings at their packaged values). */
const ENV = {
  SLACK_WEBHOOK_PARAMETER: '/image-factory/slack-webhook-url',
  STAGE: 'dev',
  // The state machine of the fixtures' executions.
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:image-factory',
  LAMBDA_MEMORY_MB: '256',
  BAKE_TASK_CPU: '1024',
  BAKE_TASK_MEMORY: '2048',
  BAKE_CPU_ARCHITECTURE: 'X86_64',
  BUILDER_INSTANCE_TYPE: 't3.small',
  BUILDER_VOLUME_GB: '8',
  TEST_INSTANCE_TYPE: 't3.small',
};
const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/XXXXXXXX';
const ssm = mockAws(SSMClient);
const eventBridge = mockAws(EventBridgeClient);
const sfn = mockAws(SFNClient);
/** The promoted build's execution history as GetExecutionHistory returns it (NotifySuccess running). */
const HISTORY = (): HistoryEvent[] =>
  loadEvent<{ events: Array<Record<string, unknown>> }>('stepfunctions', 'history-promoted').events.map(
    (event) => ({ ...event, timestamp: new Date(String(event.timestamp)) }) as HistoryEvent,
  );
const fetchMock = vi.fn<typeof fetch>();

// Each test loads its handler afresh (loadHandler): a fresh parameter cache per test.
beforeEach(() => {
  vi.stubGlobal('fetch', fetchMock);
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  sfn.on(GetExecutionHistoryCommand).resolves({ events: HISTORY() });
  ssm.on(GetParameterCommand, { Name: '/image-factory/slack-webhook-url', WithDecryption: true }).resolves({
    Parameter: { Value: WEBHOOK, Type: 'SecureString' },
  });
});

afterEach(() => {
  fetchMock.mockReset();
});

const sentBody = (call = 0) => JSON.parse(String(fetchMock.mock.calls[call]?.[1]?.body));

describe('notify-success', () => {
  it('posts a Block Kit success report to the webhook from SSM', async () => {
    fetchMock.mockResolvedValue(new Response('ok', { status: 200 }));
    const notifySuccess = await loadHandler('notify-success', ENV);
    await notifySuccess(loadEvent('stepfunctions', 'promoted'), context());
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(fetchMock.mock.calls[0]?.[0]).toBe(WEBHOOK);
    const body = sentBody();
    expect(body.text).toBe(':white_check_mark: web: ami-0ccccccccccccccc1 promoted to stable');
    const text = JSON.stringify(body.blocks);
    for (const expected of [
      'ami-0aaaaaaaaaaaaaaaa',
      '0123456789abcdef',
      '2/2 checks passed',
      '1 deregistered',
      'console.aws.amazon.com',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('reads the execution history of the build: time per phase, estimated cost, execution and image buttons', async () => {
    // Prepare: the clock of the history's last event (NotifySuccess entered 2 s before).
    fetchMock.mockResolvedValue(new Response('ok', { status: 200 }));
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-06-30T11:11:20.000Z') });
    const notifySuccess = await loadHandler('notify-success', ENV);
    const state = loadEvent<{ build: { executionArn: string } }>('stepfunctions', 'promoted');

    // Act
    try {
      await notifySuccess(state, context());
    } finally {
      vi.useRealTimers();
    }

    // Assess
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[0]?.args[0].input).toMatchObject({
      executionArn: state.build.executionArn,
      includeExecutionData: false,
    });
    const text = JSON.stringify(sentBody().blocks);
    expect(text).toContain(
      '*Time*\\n11m 20s (bake 10m 01s, boot 49s, probe 18s, distribute 4s, promote 3s, other 5s)',
    );
    expect(text).toMatch(/\*Estimated cost\*\\n\$0\.0\d{3} \(Fargate \$0\.0082, EC2 builder \$0\.0035, /);
    const buttons = sentBody().blocks.find((block: { type: string }) => block.type === 'actions').elements;
    expect(buttons.map((button: { text: { text: string } }) => button.text.text)).toEqual([
      'Execution',
      'Image',
    ]);
    expect(buttons[1].url).toBe(
      'https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#ImageDetails:imageId=ami-0ccccccccccccccc1',
    );
  });

  it('still posts the report when the history is refused, saying why', async () => {
    fetchMock.mockResolvedValue(new Response('ok', { status: 200 }));
    sfn
      .on(GetExecutionHistoryCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const notifySuccess = await loadHandler('notify-success', ENV);

    await notifySuccess(loadEvent('stepfunctions', 'promoted'), context());

    const text = JSON.stringify(sentBody().blocks);
    expect(text).toContain('time per state and cost unavailable: history not read (AccessDeniedException)');
    expect(text).not.toContain('Estimated cost');
  });

  it('fails its cold start, naming the variable, when a cost setting is missing', async () => {
    await expect(loadHandler('notify-success', { ...ENV, BUILDER_VOLUME_GB: '' })).rejects.toMatchObject({
      name: 'MissingConfiguration',
      message: expect.stringContaining('BUILDER_VOLUME_GB'),
    });
  });

  it('fails with SlackDeliveryFailed without leaking the webhook URL', async () => {
    fetchMock.mockResolvedValue(new Response('invalid_token', { status: 403 }));
    const notifySuccess = await loadHandler('notify-success', ENV);
    const error = await notifySuccess(loadEvent('stepfunctions', 'promoted'), context()).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      name: 'SlackDeliveryFailed',
      message: expect.stringContaining('HTTP 403'),
    });
    expect(String((error as Error).message)).not.toContain('hooks.slack.com');
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('fails when the webhook parameter is missing', async () => {
    ssm.reset();
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }));
    const notifySuccess = await loadHandler('notify-success', ENV);
    await expect(notifySuccess(loadEvent('stepfunctions', 'promoted'), context())).rejects.toThrow();
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('rejects a state without promotion', async () => {
    const notifySuccess = await loadHandler('notify-success', ENV);
    const state = loadEvent<Record<string, unknown>>('stepfunctions', 'promoted');
    delete state.promotion;
    await expect(notifySuccess(state, context())).rejects.toMatchObject({ name: 'InvalidInput' });
  });
});

describe('notify-failure', () => {
  it('posts the failed state and cause', async () => {
    fetchMock.mockResolvedValue(new Response('ok', { status: 200 }));
    const notifyFailure = await loadHandler('notify-failure', ENV);
    await notifyFailure(loadEvent('stepfunctions', 'probe-failed'), context());
    const body = sentBody();
    expect(body.text).toBe(':x: web: build failed in CheckProbeResult');
    expect(JSON.stringify(body.blocks)).toContain('PasswordAuthentication yes');
    const entries = eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      EventBusName: 'default',
      Source: 'image-factory',
      DetailType: 'Build Failed',
    });
    expect(JSON.parse(entries[0]?.Detail ?? '{}')).toMatchObject({
      stage: 'dev',
      region: 'eu-west-1',
      failedState: 'CheckProbeResult',
    });
  });

  it('sends the report, then fails with EventPublishFailed when EventBridge refuses the entry', async () => {
    fetchMock.mockResolvedValue(new Response('ok', { status: 200 }));
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'retry' }] });
    const notifyFailure = await loadHandler('notify-failure', ENV);

    await expect(notifyFailure(loadEvent('stepfunctions', 'probe-failed'), context())).rejects.toMatchObject({
      name: 'EventPublishFailed',
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('works for a failure before PrepareBuild produced a build', async () => {
    fetchMock.mockResolvedValue(new Response('ok', { status: 200 }));
    const notifyFailure = await loadHandler('notify-failure', ENV);
    await notifyFailure(
      { pipeline: 'web', baseImage: 'windows', error: { Error: 'InvalidInput', Cause: 'baseImage' } },
      context(),
    );
    expect(sentBody().text).toBe(':x: web: build failed in PrepareBuild');
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
