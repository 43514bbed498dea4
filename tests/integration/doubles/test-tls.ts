/**
 * A throw-away TLS certificate for 127.0.0.1, so that HTTPS doubles (the Slack webhook must be an
 * `https://` URL) can be reached by the code under test without disabling verification.
 *
 * The global setup generates it with `openssl` and sets `NODE_EXTRA_CA_CERTS` to it before the
 * test workers (forked processes) start; Node reads that variable once at process start and then
 * trusts this one certificate in addition to the system roots.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface TestTls {
  certPath: string;
  keyPath: string;
}

/** Generate a self-signed P-256 certificate for IP 127.0.0.1 (valid 2 days) into `directory`. */
export const generateTestTls = (directory: string): TestTls => {
  const certPath = join(directory, 'test-tls-cert.pem');
  const keyPath = join(directory, 'test-tls-key.pem');
  execFileSync(
    'openssl',
    [
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
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'pipe' },
  );
  return { certPath, keyPath };
};
