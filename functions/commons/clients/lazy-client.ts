/**
 * Lazily created AWS SDK clients, one per execution environment, captured by the tracer.
 *
 * A client is constructed on the first call of its getter, not when its module loads, so the cold
 * start pays only for the clients a function actually imports (one module per client in this folder:
 * a handler that never imports `ec2.ts` bundles no EC2 code) and constructs them on first use.
 *
 * Retries use the SDK's standard retry mode (exponential backoff with full jitter, a retry-token
 * bucket) with up to 5 attempts: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
 * Region and endpoints come from the SDK's standard configuration, so setting `AWS_ENDPOINT_URL`
 * (or a service-specific `AWS_ENDPOINT_URL_<SERVICE>`) targets an emulator such as moto server
 * without any code change: https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 */
import { tracer } from '../powertools/index.js';

/** Client configuration every factory client shares: standard retry mode, 5 attempts in all. */
export const CLIENT_CONFIG = { maxAttempts: 5, retryMode: 'standard' } as const;

/** A getter returning the one client of its kind, created on the first call. */
export type ClientProvider<Client> = () => Client;

/** Wrap a client constructor into a {@link ClientProvider} that creates and traces it once. */
export const lazyClient = <Client extends object>(
  create: (config: typeof CLIENT_CONFIG) => Client,
): ClientProvider<Client> => {
  let client: Client | undefined;
  return () => {
    client ??= tracer.captureAWSv3Client(create(CLIENT_CONFIG));
    return client;
  };
};

/** A getter returning the one client of its kind for a region, created on the first call for it. */
export type RegionalClientProvider<Client> = (region: string) => Client;

/** Like {@link lazyClient}, with one client per region (created and traced on its first use). */
export const lazyRegionalClient = <Client extends object>(
  create: (config: typeof CLIENT_CONFIG, region: string) => Client,
): RegionalClientProvider<Client> => {
  const clients = new Map<string, Client>();
  return (region) => {
    let client = clients.get(region);
    if (client === undefined) {
      client = tracer.captureAWSv3Client(create(CLIENT_CONFIG, region));
      clients.set(region, client);
    }
    return client;
  };
};
