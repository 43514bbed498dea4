import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockAws } from '../helpers/aws.js';
import { context, loadEvent, loadHandler } from '../helpers/lambda.js';

const ENV = { SLACK_WEBHOOK_PARAMETER: '/image-factory/slack-webhook-url', STAGE: 'dev' };
const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/XXXXXXXX';
const ssm = mockAws(SSMClient);
const eventBridge = mockAws(EventBridgeClient);
const fetchMock = vi.fn<typeof fetch>();

// Each test loads its handler afresh (loadHandler): a fresh parameter cache per test.
beforeEach(() => {
  vi.stubGlobal('fetch', fetchMock);
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
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
