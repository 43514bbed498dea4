/**
 * AwsEndpointInterceptor: lets programs that cannot be pointed at an emulator (Packer's AWS SDK
 * for Go v1 has no `AWS_ENDPOINT_URL`; its IAM and STS endpoints are fixed) reach it unchanged.
 *
 * It is an HTTPS forward proxy (`HTTPS_PROXY`): for `CONNECT <service>.amazonaws.com:443` it
 * terminates TLS with a throw-away certificate for `*.amazonaws.com` and `*.<region>.amazonaws.com`,
 * signed by a throw-away CA that the program trusts (`SSL_CERT_FILE` for Go, `AWS_CA_BUNDLE` for
 * boto3), and forwards each request as is to the {@link MotoGapProxy} (which validates it, evaluates
 * IAM and hands it to moto). Any other host is refused: nothing leaves the machine.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';

export interface AwsEndpointInterceptor {
  /** `http://127.0.0.1:<port>`: the program's `HTTPS_PROXY`. */
  readonly proxyUrl: string;
  /** PEM file of the CA the program must trust. */
  readonly caPath: string;
  /** Hosts the program connected to, in order. */
  readonly hosts: string[];
  close(): Promise<void>;
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

/** A CA and a server certificate for the AWS endpoints of `region`, in `directory`. */
const generateAwsTls = (directory: string, region: string) => {
  const ca = { key: join(directory, 'aws-ca-key.pem'), cert: join(directory, 'aws-ca.pem') };
  const leaf = {
    key: join(directory, 'aws-key.pem'),
    csr: join(directory, 'aws.csr'),
    cert: join(directory, 'aws.pem'),
  };
  const ext = join(directory, 'aws-ext.cnf');
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=factory-test-aws-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
  ]);
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=amazonaws.com',
    '-keyout',
    leaf.key,
    '-out',
    leaf.csr,
  ]);
  writeFileSync(
    ext,
    `subjectAltName=DNS:*.amazonaws.com,DNS:*.${region}.amazonaws.com\nextendedKeyUsage=serverAuth\n`,
  );
  openssl([
    'x509',
    '-req',
    '-in',
    leaf.csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    leaf.cert,
  ]);
  return { caPath: ca.cert, key: readFileSync(leaf.key), cert: readFileSync(leaf.cert) };
};

/** Start the interceptor in front of `target` (the MotoGapProxy endpoint). */
export const startAwsEndpointInterceptor = async (
  target: string,
  options: { directory: string; region: string },
): Promise<AwsEndpointInterceptor> => {
  const tls = generateAwsTls(options.directory, options.region);
  const context = createSecureContext({ key: tls.key, cert: tls.cert });
  const upstream = new URL(target);
  const hosts: string[] = [];
  const sockets = new Set<Socket>();

  // Plain HTTP inside the terminated TLS: forward to the MotoGapProxy unchanged.
  const inner = createServer((incoming, outgoing) => {
    const forwarded = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    forwarded.on('error', (error) => {
      outgoing.writeHead(502);
      outgoing.end(String(error));
    });
    incoming.pipe(forwarded);
  });

  const outer = createServer((_incoming, outgoing) => {
    outgoing.writeHead(405);
    outgoing.end('CONNECT only');
  });
  outer.on('connect', (req, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const host = String(req.url ?? '').split(':')[0] ?? '';
    hosts.push(host);
    if (!/^[a-z0-9.-]+\.amazonaws\.com$/.test(host)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
    inner.emit('connection', secure);
  });
  await new Promise<void>((done) => outer.listen(0, '127.0.0.1', done));
  const { port } = outer.address() as AddressInfo;

  return {
    proxyUrl: `http://127.0.0.1:${port}`,
    caPath: tls.caPath,
    hosts,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      inner.closeAllConnections();
      outer.closeAllConnections();
      await new Promise<void>((done) => outer.close(() => done()));
    },
  };
};
