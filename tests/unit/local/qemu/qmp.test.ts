import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { qmp } from '#local/qemu/qmp.js';

/** A fake QMP monitor: greeting, qmp_capabilities, then `replies[command]` (or close on quit). */
async function fakeQmp(path: string, seen: unknown[]): Promise<Server> {
  const server = createServer((socket: Socket) => {
    socket.write(
      '{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}\n',
    );
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const request = JSON.parse(buffer.slice(0, newline)) as { execute: string };
        buffer = buffer.slice(newline + 1);
        seen.push(request);
        if (request.execute === 'quit') {
          socket.destroy(); // QEMU may exit before its reply is read
        } else if (request.execute === 'query-status') {
          socket.write('{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 0}}\n');
          socket.write('{"return": {"status": "running", "running": true}}\n');
        } else if (request.execute === 'qmp_capabilities') {
          socket.write('{"return": {}}\n');
        } else {
          socket.write('{"error": {"class": "CommandNotFound", "desc": "nope"}}\n');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

describe('qmp', () => {
  let dir: string;
  let server: Server;
  const seen: unknown[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qmp-test-'));
    seen.length = 0;
    server = await fakeQmp(join(dir, 'qmp.sock'), seen);
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('negotiates capabilities, skips events and returns the reply', async () => {
    // Act
    const status = await qmp(join(dir, 'qmp.sock'), 'query-status');

    // Assess
    expect(status).toEqual({ status: 'running', running: true });
    expect(seen).toEqual([{ execute: 'qmp_capabilities' }, { execute: 'query-status' }]);
  });

  it('treats a connection closed by quit as success', async () => {
    await expect(qmp(join(dir, 'qmp.sock'), 'quit')).resolves.toEqual({});
  });

  it('throws on an error reply', async () => {
    await expect(qmp(join(dir, 'qmp.sock'), 'bogus')).rejects.toThrow(/CommandNotFound/);
  });
});
