/**
 * The probe runner (probe/probe.sh) run on this host against temporary drop-in checks: no VM.
 *
 * The drop-ins run for real (commands, HTTP against a local server, /proc/net for ports,
 * dpkg/rpm for packages). Only `systemctl` is a stand-in on PATH for the service kind, since this
 * host need not run systemd. Runs pass `--no-common` except where the common checks are the
 * subject (their results depend on the host, their names and order do not).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { probeVerdict } from '#commons/core/probe-verdict.js';
import { COMMON_AWS_CHECKS, COMMON_LOCAL_CHECKS } from '../../probe-checks.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
/** Each runner start is a few bash processes; the machine running the tests may be busy. */
const SLOW = { timeout: 60_000 };
const runner = join(repoRoot, 'probe', 'probe.sh');

const COMMON_LOCAL = COMMON_LOCAL_CHECKS;
const COMMON_AWS = COMMON_AWS_CHECKS;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface Line {
  check: string;
  ok: boolean;
  detail: string;
}

/** Runs the runner; resolves with its exit code and output whatever the code. */
const probe = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
  new Promise((done) => {
    execFile(
      'bash',
      [runner, ...args],
      { env: { ...process.env, PROBE_CLOUD_INIT_WAIT: '1', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });

const lines = (stdout: string): Line[] =>
  stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);

let dir: string;
const dropIn = (file: string, ...content: string[]) => writeFile(join(dir, file), `${content.join('\n')}\n`);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'probe-checks-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('probe runner: listing', SLOW, () => {
  it('lists the common checks, then the drop-ins in file-name order without their prefixes', async () => {
    // Prepare
    await dropIn('20-second.check', 'kind=command', 'command=true');
    await dropIn('10-first.check', 'kind=command', 'command=true');
    await dropIn('30-only-on-aws.check', 'kind=command', 'command=true', 'backend=aws');
    await dropIn('README', 'not a check');

    // Act
    const local = await probe(['--list', '--backend', 'local', '--checks-dir', dir]);
    const aws = await probe(['--list', '--backend=aws', `--checks-dir=${dir}`]);
    const own = await probe(['--list', '--backend', 'local', '--checks-dir', dir, '--no-common']);

    // Assess
    expect(local).toMatchObject({ code: 0, stderr: '' });
    expect(local.stdout.trim().split('\n')).toEqual([...COMMON_LOCAL, 'first', 'second']);
    expect(aws.stdout.trim().split('\n')).toEqual([...COMMON_AWS, 'first', 'second', 'only-on-aws']);
    expect(own.stdout.trim().split('\n')).toEqual(['first', 'second']);
  });

  it('lists the web definition with its own checks after the common ones', async () => {
    // Act
    const listed = await probe(['--list', '--backend', 'local', '--checks-dir', 'probe/checks.d/web']);

    // Assess
    expect(listed.stdout.trim().split('\n')).toEqual([...COMMON_LOCAL, 'service-nginx', 'health-endpoint']);
  });

  it.each([
    [['--backend', 'vax'], '--backend must be aws or local'],
    [['--checks-dir', '/nonexistent/checks'], 'is not a directory'],
    [['--bogus'], 'unknown argument --bogus'],
    [['--backend'], '--backend needs a value'],
  ])('refuses %j with exit status 2', async (args, message) => {
    // Act
    const run = await probe(['--list', ...args]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });
});

describe('probe runner: running checks', SLOW, () => {
  it('reports every check in order, each in its own JSON line, even after a failure and a timeout', async () => {
    // Prepare
    await dropIn('10-passes.check', 'kind=command', 'command=echo all good');
    await dropIn('20-fails.check', 'kind=command', 'command=echo not there >&2; exit 3');
    await dropIn('30-hangs.check', 'kind=command', 'command=sleep 120', 'timeout=1');
    await dropIn('40-after.check', 'kind=command', 'command=true');

    // Act
    const run = await probe(['--backend', 'local', '--no-common', '--checks-dir', dir]);

    // Assess
    expect(run.code).toBe(1);
    expect(lines(run.stdout)).toEqual([
      { check: 'passes', ok: true, detail: 'exit 0: all good' },
      { check: 'fails', ok: false, detail: 'exit 3: not there' },
      { check: 'hangs', ok: false, detail: 'timed out after 1 s' },
      { check: 'after', ok: true, detail: 'exit 0' },
    ]);
    expect(probeVerdict(run.stdout, run.code)).toMatchObject({ passed: false, failed: ['fails', 'hangs'] });
  });

  it('prints exactly the keys check, ok and detail, with the detail JSON-escaped on one line', async () => {
    // Prepare
    await dropIn('quotes.check', 'kind=command', String.raw`command=printf 'a "b" \\ c\tend\001\n'`);

    // Act
    const run = await probe(['--backend', 'local', '--no-common', '--checks-dir', dir]);

    // Assess
    const [line, ...rest] = run.stdout.split('\n');
    expect(rest).toEqual(['']);
    expect(Object.keys(JSON.parse(line ?? ''))).toEqual(['check', 'ok', 'detail']);
    expect(JSON.parse(line ?? '')).toEqual({
      check: 'quotes',
      ok: true,
      detail: 'exit 0: a "b" \\ c\tend\u0001',
    });
  });

  it('exits 0 and passes the verdict when every check passes', async () => {
    // Prepare
    await dropIn('a.check', 'kind=command', 'command=test -d /');
    await dropIn('b.check', 'kind=package', 'package=bash');

    // Act
    const run = await probe(['--backend', 'local', '--no-common', '--checks-dir', dir]);

    // Assess
    expect(run.code).toBe(0);
    expect(probeVerdict(run.stdout, run.code)).toMatchObject({ passed: true, summary: '2/2 checks passed' });
  });

  it('runs the common checks too and reports each one, whatever this host makes of them', async () => {
    // Prepare
    await dropIn('own.check', 'kind=command', 'command=true');

    // Act
    const run = await probe(['--backend', 'local', '--checks-dir', dir]);

    // Assess
    expect(lines(run.stdout).map((line) => line.check)).toEqual([...COMMON_LOCAL, 'own']);
    expect(lines(run.stdout).at(-1)).toEqual({ check: 'own', ok: true, detail: 'exit 0' });
  });

  it('reports an invalid or duplicate drop-in as a failed check with the reason, and runs the rest', async () => {
    // Prepare
    await dropIn('10-no-kind.check', 'command=true');
    await dropIn('20-typo.check', 'kind=command', 'comand=true');
    await dropIn('30-machine-id.check', 'kind=command', 'command=true');
    await dropIn('40-Bad_Name.check', 'kind=command', 'command=true');
    await dropIn('50-port.check', 'kind=port', 'port=70000');
    await dropIn('60-fine.check', 'kind=command', 'command=true');

    // Act
    const run = await probe(['--backend', 'local', '--checks-dir', dir]);
    const validated = await probe(['--validate', '--checks-dir', dir]);

    // Assess
    const own = lines(run.stdout).slice(COMMON_LOCAL.length);
    expect(own).toEqual([
      {
        check: 'no-kind',
        ok: false,
        detail: expect.stringContaining('kind must be one of: service, port, http, package, command'),
      },
      { check: 'typo', ok: false, detail: expect.stringContaining("unknown key 'comand' for kind command") },
      { check: 'machine-id', ok: false, detail: expect.stringContaining('taken by a common check') },
      { check: 'Bad_Name', ok: false, detail: expect.stringContaining('file name must be') },
      { check: 'port', ok: false, detail: expect.stringContaining('port must be a number from 1 to 65535') },
      { check: 'fine', ok: true, detail: 'exit 0' },
    ]);
    expect(validated.code).toBe(1);
    expect(validated.stdout).toContain('20-typo.check: unknown key');
    expect(validated.stdout).toContain('6 drop-in checks');
  });
});

describe('probe runner: drop-in kinds', SLOW, () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/health') response.writeHead(200).end('ok\n');
      else response.writeHead(404).end('missing');
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((closed) => server.close(closed));
  });

  it('http: compares the status and, when given, the trimmed body', async () => {
    // Prepare
    const base = `http://127.0.0.1:${port}`;
    await dropIn('1-health.check', 'kind=http', `url=${base}/health`, 'status=200', 'body=ok');
    await dropIn('2-wrong-body.check', 'kind=http', `url=${base}/health`, 'body=OK');
    await dropIn('3-not-found.check', 'kind=http', `url=${base}/nope`, 'status=404');
    await dropIn('4-default-200.check', 'kind=http', `url=${base}/nope`);

    // Act
    const run = await probe(['--backend', 'local', '--no-common', '--checks-dir', dir]);

    // Assess
    expect(lines(run.stdout)).toEqual([
      { check: 'health', ok: true, detail: `GET ${base}/health -> 200 'ok'` },
      { check: 'wrong-body', ok: false, detail: `GET ${base}/health -> 200 'ok', expected 200 'OK'` },
      { check: 'not-found', ok: true, detail: `GET ${base}/nope -> 404 'missing'` },
      { check: 'default-200', ok: false, detail: `GET ${base}/nope -> 404 'missing', expected 200` },
    ]);
  });

  it('port: passes while a socket listens on the port and fails once it is closed', async () => {
    // Prepare
    const other = createServer();
    await new Promise<void>((listening) => other.listen(0, '127.0.0.1', listening));
    const closed = (other.address() as AddressInfo).port;
    await new Promise((done) => other.close(done));
    await dropIn('1-open.check', 'kind=port', `port=${port}`);
    await dropIn('2-closed.check', 'kind=port', `port=${closed}`, 'protocol=tcp');

    // Act
    const run = await probe(['--backend', 'local', '--no-common', '--checks-dir', dir]);

    // Assess
    expect(lines(run.stdout)).toEqual([
      { check: 'open', ok: true, detail: `tcp port ${port} is listening` },
      { check: 'closed', ok: false, detail: `nothing listens on tcp port ${closed}` },
    ]);
  });

  it('package: passes for an installed package and fails for an unknown one', async () => {
    // Prepare
    await dropIn('1-bash.check', 'kind=package', 'package=bash');
    await dropIn('2-absent.check', 'kind=package', 'package=no-such-package-for-the-probe');

    // Act
    const run = await probe(['--backend', 'local', '--no-common', '--checks-dir', dir]);

    // Assess
    const [bash, absent] = lines(run.stdout);
    expect(bash).toMatchObject({
      check: 'bash',
      ok: true,
      detail: expect.stringMatching(/^bash \S+ installed/),
    });
    expect(absent).toMatchObject({
      check: 'absent',
      ok: false,
      detail: expect.stringContaining('not installed'),
    });
  });

  it('service: needs one of the units enabled and active (systemctl stand-in on PATH)', async () => {
    // Prepare: enabled+active web.service, enabled but inactive db.service, unknown others.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'systemctl'),
      [
        '#!/bin/bash',
        'verb="$1" quiet=false',
        'if [[ "$2" == --quiet ]]; then quiet=true; shift; fi',
        'say() { [[ "$quiet" == true ]] || echo "$1"; }',
        'case "$verb:$2" in',
        '  is-enabled:web.service | is-enabled:db.service) say enabled ;;',
        '  is-active:web.service) say active ;;',
        '  is-active:*) say inactive; exit 3 ;;',
        '  *) say not-found; exit 4 ;;',
        'esac',
        '',
      ].join('\n'),
    );
    await chmod(join(bin, 'systemctl'), 0o755);
    await dropIn('1-web.check', 'kind=service', 'unit=web.service');
    await dropIn('2-db.check', 'kind=service', 'unit=db.service');
    await dropIn('3-either.check', 'kind=service', 'unit=old.service web.service');

    // Act
    const run = await probe(['--backend', 'local', '--no-common', '--checks-dir', dir], {
      PATH: `${bin}:${process.env.PATH}`,
    });

    // Assess
    expect(lines(run.stdout)).toEqual([
      { check: 'web', ok: true, detail: 'web.service enabled, active' },
      { check: 'db', ok: false, detail: 'not enabled and active: db.service enabled, inactive' },
      { check: 'either', ok: true, detail: 'web.service enabled, active' },
    ]);
  });
});
