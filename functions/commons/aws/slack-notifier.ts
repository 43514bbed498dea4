/**
 * `Notifier` posting Block Kit messages to a Slack incoming webhook.
 *
 * The webhook URL is a secret: it is read from an SSM SecureString through Powertools Parameters
 * (cached for `cacheSeconds`), never logged and never put in an error message. Each POST has a
 * timeout (`AbortSignal.timeout`); HTTP 429 / 5xx and network errors are retried a bounded number
 * of times with backoff, honouring `Retry-After` up to the backoff cap.
 * Slack webhooks: https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
 */
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { SlackDeliveryFailed } from '../errors.js';
import type { Notification, Notifier } from '../ports.js';
import { toSlackMessage } from '../slack.js';

export interface SlackNotifierOptions {
  /** SSM SecureString parameter holding the webhook URL. */
  parameterName: string;
  /** Attempts per message (default 3). */
  attempts?: number;
  /** Per-request timeout in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Base backoff in milliseconds, doubled per retry (default 500); also the Retry-After cap × 4. */
  backoffMs?: number;
  /** Cache lifetime of the URL, in seconds (default 300). */
  cacheSeconds?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SlackNotifier implements Notifier {
  private readonly provider: SSMProvider;

  constructor(
    client: SSMClient,
    private readonly options: SlackNotifierOptions,
  ) {
    this.provider = new SSMProvider({ awsSdkV3Client: client });
  }

  async notify(notification: Notification): Promise<void> {
    const url = await this.provider.get(this.options.parameterName, {
      decrypt: true,
      maxAge: this.options.cacheSeconds ?? 300,
    });
    if (typeof url !== 'string' || !url.startsWith('https://')) {
      throw new SlackDeliveryFailed(
        `parameter ${this.options.parameterName} does not hold an https webhook URL`,
      );
    }
    const body = JSON.stringify(toSlackMessage(notification));
    const attempts = this.options.attempts ?? 3;
    const backoffMs = this.options.backoffMs ?? 500;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      let retryAfterMs = backoffMs * 2 ** (attempt - 1);
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
        if (Number.isFinite(retryAfter) && retryAfter > 0) {
          retryAfterMs = Math.min(retryAfter * 1000, backoffMs * 4);
        }
      } catch (error) {
        lastProblem =
          (error as Error).name === 'TimeoutError' ? 'timeout' : `network error (${(error as Error).name})`;
      }
      if (attempt < attempts) await sleep(retryAfterMs);
    }
    throw new SlackDeliveryFailed(`slack webhook rejected the message: ${lastProblem}`);
  }
}
