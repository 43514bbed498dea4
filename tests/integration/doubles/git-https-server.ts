/**
 * GitHttpsServer: a real git server on https://127.0.0.1 for the image definition repository.
 *
 * Not a double of git: every request is answered by `git http-backend` (git's own smart HTTP
 * CGI program, https://git-scm.com/docs/git-http-backend) run per request, so PrepareBuild's ref
 * discovery and the runner's `git fetch` talk the real protocol. It can require a token (HTTP
 * basic auth, user `x-access-token`, as for a private GitHub repository) and records what it was
 * asked. The repository is a throw-away one made from files the caller gives, with one commit per
 * call of {@link GitHttpsServer.commit}. TLS: the run's test certificate (`test-tls.ts`), trusted by
 * Node (`NODE_EXTRA_CA_CERTS`) and by git through `GIT_SSL_CAINFO`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestTls } from './test-tls.js';

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'factory-test',
  GIT_AUTHOR_EMAIL: 'factory-test@example.invalid',
  GIT_COMMITTER_NAME: 'factory-test',
  GIT_COMMITTER_EMAIL: 'factory-test@example.invalid',
};

export interface GitHttpsServer {
  /** Clone URL of the repository, `https://127.0.0.1:<port>/<name>.git`. */
  readonly url: string;
  /** The bare repository on disk (a `file://` remote for tests that need no HTTP). */
  readonly path: string;
  /** Authorization headers received, in order (undefined when none was sent). */
  readonly authorizations: Array<string | undefined>;
  /**
   * Commit `files` (path → content, or a directory to copy with `{ copyFrom }`) on `branch`.
   * @returns the new commit id.
   */
  commit(branch: string, files: Record<string, string | { copyFrom: string }>, message?: string): string;
  /** Require `Authorization: Basic base64(x-access-token:<token>)` from now on. */
  requireToken(token: string): void;
  close(): Promise<void>;
}

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...GIT_IDENTITY },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();

export const startGitHttpsServer = async (
  tls: TestTls,
  name = 'image-definition',
): Promise<GitHttpsServer> => {
  const root = mkdtempSync(join(tmpdir(), 'factory-git-'));
  const bare = join(root, `${name}.git`);
  const work = join(root, 'work');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  git(root, 'clone', '--quiet', bare, work);
  let token: string | undefined;
  const authorizations: Array<string | undefined> = [];

  const server = createServer(
    { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) },
    (incoming, outgoing) => {
      const authorization = incoming.headers.authorization;
      authorizations.push(authorization);
      const expected = token && `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
      if (expected && authorization !== expected) {
        outgoing.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
        outgoing.end();
        return;
      }
      const [path = '/', query = ''] = (incoming.url ?? '/').split('?');
      const cgi = spawn('git', ['http-backend'], {
        env: {
          ...process.env,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: '1',
          PATH_INFO: decodeURIComponent(path),
          QUERY_STRING: query,
          REQUEST_METHOD: incoming.method ?? 'GET',
          CONTENT_TYPE: incoming.headers['content-type'] ?? '',
          GIT_PROTOCOL: String(incoming.headers['git-protocol'] ?? ''),
          HTTP_CONTENT_ENCODING: String(incoming.headers['content-encoding'] ?? ''),
          REMOTE_ADDR: '127.0.0.1',
        },
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      incoming.pipe(cgi.stdin);
      const chunks: Buffer[] = [];
      cgi.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      cgi.on('close', () => {
        // CGI response: headers, a blank line, the body.
        const response = Buffer.concat(chunks);
        const split = response.indexOf('\r\n\r\n');
        const head = response.subarray(0, split).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        let status = 200;
        for (const line of head) {
          const at = line.indexOf(':');
          const key = line.slice(0, at).trim().toLowerCase();
          const value = line.slice(at + 1).trim();
          if (key === 'status') status = Number.parseInt(value, 10);
          else if (key) headers[key] = value;
        }
        outgoing.writeHead(status, headers);
        outgoing.end(response.subarray(split + 4));
      });
    },
  );
  // Never close idle keep-alive connections on a timer: a client reusing one just as the server
  // drops it gets a network error (close() drops them all).
  server.keepAliveTimeout = 0;
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}/${name}.git`,
    path: bare,
    authorizations,
    commit: (branch, files, message = 'image definition') => {
      const branches = git(work, 'branch', '--list', '--all');
      if (branches.includes(`remotes/origin/${branch}`)) {
        git(work, 'checkout', '--quiet', '-B', branch, `origin/${branch}`);
      } else {
        git(work, 'checkout', '--quiet', '--orphan', branch);
      }
      for (const [file, content] of Object.entries(files)) {
        const target = join(work, file);
        mkdirSync(dirname(target), { recursive: true });
        if (typeof content === 'string') writeFileSync(target, content);
        else cpSync(content.copyFrom, target, { recursive: true });
      }
      git(work, 'add', '--all');
      git(work, 'commit', '--quiet', '--allow-empty', '-m', message);
      git(work, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
      git(work, 'fetch', '--quiet', 'origin');
      return git(work, 'rev-parse', 'HEAD');
    },
    requireToken: (next) => {
      token = next;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      rmSync(root, { recursive: true, force: true });
    },
  };
};
