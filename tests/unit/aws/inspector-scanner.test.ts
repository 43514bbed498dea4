/**
 * The Inspector Scan client (`functions/commons/aws/inspector-scanner.ts`) against a local HTTP
 * server standing in for the service endpoint (AWS itself cannot run here; the emulator's double,
 * tests/integration/doubles/moto-gap-proxy.ts, also validates the request against botocore's
 * model). What is checked: the request the SDK parts build (rest-json POST /scan/sbom, SigV4 for
 * `inspector-scan`), the error names, and which answers the standard retry strategy retries.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  errorName,
  InspectorScanClient,
  InspectorScanError,
  InspectorScanner,
  inspectorScanEndpoint,
  retryErrorType,
} from '#commons/aws/inspector-scanner.js';

const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });
const SBOM = { bomFormat: 'CycloneDX', specVersion: '1.5', components: [] };

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let seen: Seen[];
let answers: Array<{ status: number; headers?: Record<string, string>; body: unknown }>;

beforeEach(async () => {
  seen = [];
  answers = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const answer = answers.shift() ?? { status: 500, body: { message: 'no answer scripted' } };
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  process.env.AWS_ENDPOINT_URL_INSPECTOR_SCAN = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  delete process.env.AWS_ENDPOINT_URL_INSPECTOR_SCAN;
  await new Promise((done) => server.close(done));
});

describe('InspectorScanClient', () => {
  it('sends one signed rest-json ScanSbom and returns the report', async () => {
    answers.push({ status: 200, body: { sbom: { bomFormat: 'CycloneDX', vulnerabilities: [] } } });
    const scanner = new InspectorScanner(new InspectorScanClient('eu-west-1', credentials));

    const outcome = await scanner.scan(SBOM as never);

    expect(outcome).toEqual({ scanned: true, report: { bomFormat: 'CycloneDX', vulnerabilities: [] } });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/scan/sbom' });
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[0]?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/inspector-scan\/aws4_request, SignedHeaders=\S*host\S*, Signature=[0-9a-f]{64}$/,
    );
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ sbom: SBOM, outputFormat: 'CYCLONE_DX_1_5' });
  });

  it('retries a throttled call with the standard strategy, then succeeds', async () => {
    const throttled = {
      status: 429,
      headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/' },
      body: { message: 'Rate exceeded' },
    };
    answers.push(throttled, throttled, { status: 200, body: { sbom: { vulnerabilities: [] } } });
    const client = new InspectorScanClient('us-east-1', credentials);

    await expect(client.scanSbom({ sbom: SBOM, outputFormat: 'CYCLONE_DX_1_5' })).resolves.toEqual({
      sbom: { vulnerabilities: [] },
    });
    expect(seen).toHaveLength(3);
  });

  it('does not retry a refusal and names it as the SDK does', async () => {
    answers.push({ status: 403, body: { __type: 'AccessDeniedException', message: 'not authorized' } });
    const client = new InspectorScanClient('us-east-1', credentials);

    const attempt = client.scanSbom({ sbom: SBOM, outputFormat: 'CYCLONE_DX_1_5' });

    await expect(attempt).rejects.toMatchObject({ name: 'AccessDeniedException', message: 'not authorized' });
    expect(seen).toHaveLength(1);
  });

  it('lets a build-step middleware decorate the request before it is signed', async () => {
    answers.push({ status: 200, body: { sbom: {} } });
    const client = new InspectorScanClient('us-east-1', credentials);
    client.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-test'] = 'yes';
        return next(args);
      },
      { step: 'build' },
    );

    await client.scanSbom({ sbom: SBOM, outputFormat: 'CYCLONE_DX_1_5' });

    expect(seen[0]?.headers['x-test']).toBe('yes');
  });
});

describe('Inspector Scan facts', () => {
  it.each([
    ['us-east-1', {}, 'https://inspector-scan.us-east-1.amazonaws.com/'],
    ['cn-north-1', {}, 'https://inspector-scan.cn-north-1.amazonaws.com.cn/'],
    ['us-east-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }, 'http://127.0.0.1:5000/'],
    [
      'us-east-1',
      { AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_INSPECTOR_SCAN: 'http://b:2' },
      'http://b:2/',
    ],
  ])('endpoint of %s with %j is %s', (region, env, expected) => {
    expect(inspectorScanEndpoint(region, env).href).toBe(expected);
  });

  it.each([
    [{ 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/' }, '{}', 'ValidationException'],
    [{}, '{"__type":"aws.protocols#InternalServerException"}', 'InternalServerException'],
    [{}, 'not json', 'UnknownError'],
  ])('error name of %j / %s is %s', (headers, body, expected) => {
    expect(errorName(headers, body)).toBe(expected);
  });

  it.each([
    [new InspectorScanError('NetworkingError', 'reset', 0), 'TRANSIENT'],
    [new InspectorScanError('ThrottlingException', 'slow down', 429), 'THROTTLING'],
    [new InspectorScanError('InternalServerException', 'oops', 500), 'SERVER_ERROR'],
    [new InspectorScanError('ValidationException', 'bad', 400), undefined],
    [new InspectorScanError('AccessDeniedException', 'no', 403), undefined],
  ])('%s is retried as %s', (error, expected) => {
    expect(retryErrorType(error)).toBe(expected);
  });
});
