import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ssmSecureString } from '#commons/aws/ssm-secure-string.js';
import { SlackDeliveryFailed } from '#commons/errors.js';
import type { Notification } from '#commons/ports.js';
import { SlackWebhookNotifier } from '#commons/slack/webhook-notifier.js';
import { mockAws } from '../helpers/aws.js';

const ssm = mockAws(SSMClient);
const fetchMock = vi.fn<typeof fetch>();
const NOTE: Notification = { outcome: 'success', title: 't', fields: [] };
const notifier = (parameterName = '/slack') =>
  new SlackWebhookNotifier(
    ssmSecureString(
      () => new SSMClient({}),
      parameterName,
      (name) => new SlackDeliveryFailed(`parameter ${name} holds no Slack webhook URL`),
    ),
    {
      attempts: 3,
      backoffMs: 1,
      timeoutMs: 50,
    },
  );

beforeEach(() => {
  vi.stubGlobal('fetch', fetchMock);
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'https://hooks.slack.com/services/T/B/X' } });
});
afterEach(() => {
  fetchMock.mockReset();
});

describe('SlackNotifier', () => {
  it('retries 429 and 5xx, then succeeds', async () => {
    fetchMock
      .mockResolvedValueOnce(new Response('', { status: 429, headers: { 'retry-after': '1' } }))
      .mockResolvedValueOnce(new Response('', { status: 503 }))
      .mockResolvedValueOnce(new Response('ok', { status: 200 }));
    await notifier().notify(NOTE);
    expect(fetchMock).toHaveBeenCalledTimes(3);
    expect(fetchMock.mock.calls[0]?.[1]?.signal).toBeInstanceOf(AbortSignal);
  });

  it('gives up after the bounded attempts on network errors and timeouts', async () => {
    fetchMock
      .mockRejectedValueOnce(Object.assign(new Error('socket hang up'), { name: 'TypeError' }))
      .mockRejectedValueOnce(Object.assign(new Error('aborted'), { name: 'TimeoutError' }))
      .mockRejectedValueOnce(Object.assign(new Error('aborted'), { name: 'TimeoutError' }));
    await expect(notifier().notify(NOTE)).rejects.toMatchObject({
      name: 'SlackDeliveryFailed',
      message: expect.stringContaining('timeout'),
    });
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it('does not retry a 4xx other than 429', async () => {
    fetchMock.mockResolvedValue(new Response('no_service', { status: 404 }));
    await expect(notifier().notify(NOTE)).rejects.toMatchObject({ name: 'SlackDeliveryFailed' });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('refuses a parameter that does not hold an https URL, without echoing it', async () => {
    ssm.reset();
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'http://insecure.example/hook' } });
    const error = await notifier('/other')
      .notify(NOTE)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SlackDeliveryFailed' });
    expect((error as Error).message).not.toContain('insecure.example');
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('fails when the parameter is empty', async () => {
    ssm.reset();
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: '' } });
    await expect(notifier('/empty').notify(NOTE)).rejects.toMatchObject({ name: 'SlackDeliveryFailed' });
  });
});
