/**
 * `Notifier` posting Block Kit messages to a Slack incoming webhook (both backends).
 *
 * The webhook URL is a secret: it comes from `resolveUrl` (on AWS an SSM SecureString read through
 * Powertools Parameters, see `aws/ssm-secure-string.ts`; locally `SLACK_WEBHOOK_URL`), is never
 * logged and never put in an error message.
 * Each POST has a timeout (`AbortSignal.timeout`); HTTP 429 / 5xx, network errors and timeouts are
 * retried a bounded number of times with exponential backoff (a `Retry-After` is honoured up to 4×
 * the base backoff). Other 4xx answers are not retried.
 * Slack webhooks: https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
 */
import { SlackDeliveryFailed } from '../errors.js';
import type { Notification, Notifier } from '../ports.js';
import { toSlackMessage } from './blocks.js';

export interface SlackWebhookOptions {
  /** Attempts per message (default 3). */
  attempts?: number;
  /** Per-request timeout in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Base backoff in milliseconds, doubled per retry (default 500). */
  backoffMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SlackWebhookNotifier implements Notifier {
  constructor(
    /** Returns the webhook URL (`https://hooks.slack.com/services/…`). */
    private readonly resolveUrl: () => Promise<string>,
    private readonly options: SlackWebhookOptions = {},
  ) {}

  /** @throws SlackDeliveryFailed when the URL is not https or Slack does not accept the message. */
  async notify(notification: Notification): Promise<void> {
    const url = await this.resolveUrl();
    if (typeof url !== 'string' || !url.startsWith('https://')) {
      throw new SlackDeliveryFailed('the Slack webhook URL is not an https URL');
    }
    const body = JSON.stringify(toSlackMessage(notification));
    const attempts = this.options.attempts ?? 3;
    const backoffMs = this.options.backoffMs ?? 500;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      let waitMs = backoffMs * 2 ** (attempt - 1);
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
        if (response.ok) return;
        lastProblem = `HTTP ${response.status}`;
        if (response.status !== 429 && response.status < 500) break;
        const retryAfter = Number(response.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0)
          waitMs = Math.min(retryAfter * 1000, backoffMs * 4);
      } catch (error) {
        const name = (error as Error).name;
        lastProblem = name === 'TimeoutError' ? 'timeout' : `network error (${name})`;
      }
      if (attempt < attempts) await sleep(waitMs);
    }
    throw new SlackDeliveryFailed(`slack webhook rejected the message after retries: ${lastProblem}`);
  }
}
