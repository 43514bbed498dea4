/**
 * SlackWebhookDouble: a Slack incoming-webhook endpoint on https://127.0.0.1 that records what it
 * receives and answers with a chosen status (200 `ok` like Slack, or 500 to simulate an outage).
 * Closing it leaves a URL that refuses connections (Slack unreachable). HTTPS because the notifier
 * only accepts `https://` webhook URLs; the certificate is the run's test certificate
 * (`test-tls.ts`), trusted by the workers.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestTls } from './test-tls.js';

export interface SlackWebhookDouble {
  /** Full webhook URL (`http://127.0.0.1:<port>/services/T000/B000/XXXX`). */
  readonly url: string;
  /** Parsed JSON bodies received, in order. */
  readonly received: unknown[];
  /** Status of the next answers (200 answers `ok`, anything else `internal_error`). */
  respondWith(status: number): void;
  close(): Promise<void>;
}

export const startSlackWebhookDouble = async (
  tls: TestTls,
  initialStatus = 200,
): Promise<SlackWebhookDouble> => {
  let status = initialStatus;
  const received: unknown[] = [];
  const options = { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) };
  const server = createServer(options, (incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      try {
        received.push(JSON.parse(text));
      } catch {
        received.push(text);
      }
      outgoing.writeHead(status, { 'content-type': 'text/plain' });
      outgoing.end(status === 200 ? 'ok' : 'internal_error');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    url: `https://127.0.0.1:${port}/services/T000/B000/XXXX`,
    received,
    respondWith: (next) => {
      status = next;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
};
