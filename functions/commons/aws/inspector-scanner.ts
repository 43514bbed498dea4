/**
 * The AWS backend's vulnerability scanner: Amazon Inspector's `ScanSbom`
 * (https://docs.aws.amazon.com/inspector/v2/APIReference/API_scan_ScanSbom.html).
 *
 * `@aws-sdk/client-inspector-scan` is not served by the npm registry this project installs from
 * (checked 2026-12-01: `npm view @aws-sdk/client-inspector-scan` answers 404), so this one call is
 * made with the SDK's own parts, the ones every generated client is assembled from:
 *   - the request as botocore's model `inspector-scan` 2023-08-08 defines it: protocol rest-json,
 *     `POST /scan/sbom`, body `{ sbom, outputFormat }`, signing name `inspector-scan`, endpoint
 *     `https://inspector-scan.<region>.<dnsSuffix>` (its endpoint rule set), or `AWS_ENDPOINT_URL_INSPECTOR_SCAN`
 *     / `AWS_ENDPOINT_URL` (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html);
 *   - credentials from the SDK's default provider chain (`@aws-sdk/credential-provider-node`);
 *   - Signature Version 4 (`@smithy/signature-v4`, SHA-256 from `@smithy/hash-node`);
 *   - the SDK's standard retry strategy (`@smithy/util-retry`, 5 attempts, exponential backoff
 *     with jitter and a retry-token bucket: the same as the factory's other clients,
 *     `clients/lazy-client.ts`): ThrottlingException (HTTP 429), 5xx and connection errors are
 *     retried, other errors are not;
 *   - errors named as the SDK names them: the `x-amzn-errortype` header or the body's `__type`
 *     (AccessDeniedException, InternalServerException, ThrottlingException, ValidationException);
 *   - the SDK's middleware stack (`@smithy/middleware-stack`), so that, as on a generated client,
 *     `middlewareStack.add` can decorate each request before it is signed.
 * Replace this module by the generated client once the registry serves it.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { constructStack } from '@smithy/middleware-stack';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { RetryErrorType } from '@smithy/types';
import { StandardRetryStrategy } from '@smithy/util-retry';
import { CLIENT_CONFIG } from '../clients/lazy-client.js';
import type { CycloneDxDocument } from '../core/sbom.js';
import type { ScanOutcome, VulnerabilityScanner } from '../ports.js';

/** An error answer of the Inspector Scan API, named like the SDK's exceptions. */
export class InspectorScanError extends Error {
  constructor(
    name: string,
    message: string,
    /** HTTP status of the answer (0: no answer, a connection error). */
    readonly statusCode: number,
  ) {
    super(message);
    this.name = name;
  }
}

/** The endpoint of Inspector Scan in `region`: the environment's override, else the public one. */
export function inspectorScanEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): URL {
  const override = env.AWS_ENDPOINT_URL_INSPECTOR_SCAN ?? env.AWS_ENDPOINT_URL;
  if (override) return new URL(override);
  const dnsSuffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://inspector-scan.${region}.${dnsSuffix}`);
}

/** Which retry budget an error answer uses (`@smithy/types` RetryErrorType). */
export function retryErrorType(error: InspectorScanError): RetryErrorType | undefined {
  if (error.statusCode === 0) return 'TRANSIENT';
  if (error.statusCode === 429 || error.name === 'ThrottlingException') return 'THROTTLING';
  if (error.statusCode >= 500) return 'SERVER_ERROR';
  return undefined;
}

/** The error name of a rest-json error answer (`x-amzn-errortype` header, else the body's `__type`). */
export function errorName(headers: Record<string, string>, body: string): string {
  const fromHeader = headers['x-amzn-errortype'];
  let name = fromHeader;
  if (!name) {
    try {
      name = (JSON.parse(body) as { __type?: string }).__type;
    } catch {
      name = undefined;
    }
  }
  // "ThrottlingException:http://internal.amazon.com/…" and "aws.protocols#ThrottlingException".
  return (name ?? 'UnknownError').split(':')[0]?.split('#').at(-1) ?? 'UnknownError';
}

/** The one `ScanSbom` call of Inspector Scan, shaped like a generated SDK client (see above). */
export class InspectorScanClient {
  /** The SDK's middleware stack: `build` step middlewares see `{ input, request }` before signing. */
  readonly middlewareStack = constructStack<{ sbom: unknown; outputFormat: string }, { sbom?: unknown }>();
  private readonly handler = new NodeHttpHandler({ requestTimeout: 60_000 });
  private readonly retries = new StandardRetryStrategy(CLIENT_CONFIG.maxAttempts);
  private readonly signer: SignatureV4;

  constructor(
    readonly region: string,
    credentials = defaultProvider(),
  ) {
    this.signer = new SignatureV4({
      service: 'inspector-scan',
      region,
      credentials,
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  /**
   * `ScanSbom`, retried by the standard retry strategy.
   * @returns the response (`sbom`: the vulnerability report in `outputFormat`).
   * @throws InspectorScanError (AccessDeniedException, ValidationException, InternalServerException,
   *   or ThrottlingException once the retries are spent).
   */
  async scanSbom(input: { sbom: unknown; outputFormat: 'CYCLONE_DX_1_5' }): Promise<{ sbom?: unknown }> {
    let token = await this.retries.acquireInitialRetryToken('inspector-scan');
    for (;;) {
      try {
        const output = await this.sendOnce(input);
        this.retries.recordSuccess(token);
        return output;
      } catch (error) {
        const type = error instanceof InspectorScanError ? retryErrorType(error) : undefined;
        if (type === undefined) throw error;
        try {
          token = await this.retries.refreshRetryTokenForRetry(token, { errorType: type });
        } catch {
          throw error;
        }
        await new Promise((done) => setTimeout(done, token.getRetryDelay()));
      }
    }
  }

  private async sendOnce(input: { sbom: unknown; outputFormat: string }): Promise<{ sbom?: unknown }> {
    const endpoint = inspectorScanEndpoint(this.region);
    const request = new HttpRequest({
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
      method: 'POST',
      path: `${endpoint.pathname.replace(/\/$/, '')}/scan/sbom`,
      headers: { 'content-type': 'application/json', host: endpoint.host },
      body: JSON.stringify(input),
    });
    const terminal = async (args: { request: unknown }) => ({
      output: await this.transmit(args.request as HttpRequest),
      response: {},
    });
    const handle = this.middlewareStack.resolve(terminal as never, {});
    const { output } = await handle({ input, request } as never);
    return output as { sbom?: unknown };
  }

  private async transmit(request: HttpRequest): Promise<{ sbom?: unknown }> {
    const signed = await this.signer.sign(request);
    let response: Awaited<ReturnType<NodeHttpHandler['handle']>>['response'];
    try {
      ({ response } = await this.handler.handle(signed as HttpRequest));
    } catch (error) {
      throw new InspectorScanError('NetworkingError', (error as Error).message, 0);
    }
    const text = await readBody(response.body);
    if (response.statusCode >= 200 && response.statusCode < 300)
      return JSON.parse(text) as { sbom?: unknown };
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw new InspectorScanError(errorName(response.headers, text), message, response.statusCode);
  }
}

/** `VulnerabilityScanner` over {@link InspectorScanClient}: `ScanSbom` with `CYCLONE_DX_1_5`. */
export class InspectorScanner implements VulnerabilityScanner {
  readonly name = 'inspector' as const;

  constructor(private readonly client: InspectorScanClient) {}

  /**
   * @returns `{ scanned: true, report }`, the response's `sbom` (a CycloneDX 1.5 vulnerability report).
   * @throws InspectorScanError, see {@link InspectorScanClient.scanSbom}.
   */
  async scan(sbom: CycloneDxDocument): Promise<ScanOutcome> {
    const { sbom: report } = await this.client.scanSbom({ sbom, outputFormat: 'CYCLONE_DX_1_5' });
    return { scanned: true, report };
  }
}

async function readBody(stream: unknown): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
