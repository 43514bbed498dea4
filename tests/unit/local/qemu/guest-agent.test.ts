import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  GuestAgentError,
  GuestAgentTimeout,
  GuestExecTimeout,
  guestExec,
  guestShell,
  toResult,
  waitForAgent,
} from '#local/qemu/guest-agent.js';
import { fakeAgent } from '../../helpers/fake-agent.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('guest agent client', () => {
  let dir: string;
  let socketPath: string;
  let server: Server | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qga-test-'));
    socketPath = join(dir, 'qga.sock');
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('waitForAgent syncs past stale replies and pings', async () => {
    // Prepare
    const seen: string[] = [];
    server = await fakeAgent(socketPath, (request) => {
      seen.push(request.execute);
      return {};
    });

    // Act
    const waited = await waitForAgent(socketPath, 5);

    // Assess
    expect(waited).toBeLessThan(5);
    expect(seen).toEqual(['guest-ping']);
  });

  it('waitForAgent throws GuestAgentTimeout when the agent never answers', async () => {
    // Prepare
    server = await fakeAgent(socketPath, () => ({}), { silent: true });

    // Act + Assess
    await expect(waitForAgent(socketPath, 1.5)).rejects.toBeInstanceOf(GuestAgentTimeout);
  });

  it('waitForAgent throws GuestAgentTimeout when the socket does not exist', async () => {
    await expect(waitForAgent(join(dir, 'missing.sock'), 1)).rejects.toThrow(/not ready within 1 s/);
  });

  it('guestExec starts the process, polls guest-exec-status and decodes the output', async () => {
    // Prepare
    const requests: unknown[] = [];
    let polls = 0;
    server = await fakeAgent(socketPath, (request) => {
      requests.push(request);
      if (request.execute === 'guest-exec') return { pid: 42 };
      polls += 1;
      return polls < 3
        ? { exited: false }
        : { exited: true, exitcode: 3, 'out-data': b64('hello\n'), 'err-data': b64('oops\n') };
    });

    // Act
    const result = await guestShell(socketPath, 'echo hello; exit 3', { pollSeconds: 0.01, input: 'in' });

    // Assess
    expect(result).toMatchObject({ exitCode: 3, stdout: 'hello\n', stderr: 'oops\n', truncated: false });
    expect(requests[0]).toEqual({
      execute: 'guest-exec',
      arguments: {
        path: '/bin/sh',
        arg: ['-c', 'echo hello; exit 3'],
        'capture-output': true,
        'input-data': b64('in'),
      },
    });
    expect(requests.slice(1)).toEqual([
      { execute: 'guest-exec-status', arguments: { pid: 42 } },
      { execute: 'guest-exec-status', arguments: { pid: 42 } },
      { execute: 'guest-exec-status', arguments: { pid: 42 } },
    ]);
  });

  it('guestExec maps an agent error to GuestAgentError', async () => {
    // Prepare
    server = await fakeAgent(socketPath, () => {
      throw new Error('Failed to execute child process');
    });

    // Act + Assess
    await expect(guestExec(socketPath, '/nope')).rejects.toBeInstanceOf(GuestAgentError);
  });

  it('guestExec throws GuestExecTimeout and kills the guest process', async () => {
    // Prepare
    const execs: unknown[] = [];
    server = await fakeAgent(socketPath, (request) => {
      if (request.execute === 'guest-exec') {
        execs.push(request.arguments);
        return { pid: 7 };
      }
      return { exited: false };
    });

    // Act + Assess
    await expect(
      guestExec(socketPath, '/bin/sleep', ['100'], { timeoutSeconds: 0.2, pollSeconds: 0.05 }),
    ).rejects.toBeInstanceOf(GuestExecTimeout);
    expect(execs[1]).toEqual({ path: '/bin/kill', arg: ['-KILL', '7'] });
  });
});

describe('toResult', () => {
  it.each([
    [
      { exited: true, exitcode: 0 },
      { exitCode: 0, stdout: '', stderr: '', truncated: false },
    ],
    [
      { exited: true, signal: 9, 'out-truncated': true },
      { signal: 9, stdout: '', stderr: '', truncated: true },
    ],
    [
      { exited: true, exitcode: 1, 'err-data': b64('é\n') },
      { exitCode: 1, stdout: '', stderr: 'é\n', truncated: false },
    ],
  ])('%j → %j', (status, expected) => {
    expect(toResult(status, 1.5)).toEqual({ ...expected, durationSeconds: 1.5 });
  });
});
