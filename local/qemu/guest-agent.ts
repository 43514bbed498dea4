import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FactoryError } from '#commons/errors.js';
import { JsonLineSocket, JsonSocketClosed, JsonSocketTimeout } from './json-socket.js';

/**
 * Client for the QEMU guest agent (qemu-ga) over the host side of its virtio-serial channel
 * (`-chardev socket,path=…,server=on,wait=off` + `virtserialport name=org.qemu.guest_agent.0`).
 *
 * This is the local counterpart of SSM Run Command: `waitForAgent` ≈ the instance becoming SSM
 * "Online", `guestExec` ≈ `SendCommand` + `GetCommandInvocation`.
 *
 * Protocol facts (QEMU "QEMU Guest Agent Protocol Reference", docs/interop/qemu-ga-ref, and
 * docs/interop/qemu-ga.rst):
 * - one JSON object per line in each direction; the agent keeps no session, and replies to
 *   commands sent before a reconnect can still arrive, so every session starts with
 *   `guest-sync-delimited {id}`: the client first sends a 0xFF byte (the agent's parser drops
 *   partial input up to it), the agent answers `{"return": id}` preceded by a 0xFF byte, and the
 *   client discards everything before the reply carrying its own random id;
 * - `guest-exec {path, arg, env, input-data (base64), capture-output}` returns `{pid}`;
 *   `guest-exec-status {pid}` returns `{exited, exitcode?, signal?, out-data?, err-data?,
 *   out-truncated?, err-truncated?}` with base64 output (qemu-ga caps captured output at 16 MiB);
 * - errors come back as `{"error": {"class", "desc"}}`.
 * Only one client can be connected to the chardev at a time; each call here opens and closes its
 * own connection.
 */

/** The guest agent did not answer the sync handshake within the allowed time. */
export class GuestAgentTimeout extends FactoryError {
  constructor(message: string) {
    super('GuestAgentTimeout', message);
  }
}

/** The guest agent answered a command with `{"error": {class, desc}}`. */
export class GuestAgentError extends FactoryError {
  readonly errorClass: string;
  constructor(command: string, errorClass: string, desc: string) {
    super('GuestAgentError', `${command}: ${errorClass}: ${desc}`);
    this.errorClass = errorClass;
  }
}

/** A guest-exec process did not exit within its timeout (it is killed in the guest, best effort). */
export class GuestExecTimeout extends FactoryError {
  constructor(message: string) {
    super('GuestExecTimeout', message);
  }
}

/** Result of a command run in the guest. */
export interface GuestExecResult {
  /** exit status; absent when the process was killed by a signal */
  exitCode?: number;
  /** terminating signal number, when killed by one */
  signal?: number;
  /** decoded standard output (UTF-8) */
  stdout: string;
  /** decoded standard error (UTF-8) */
  stderr: string;
  /** true when qemu-ga truncated either stream (16 MiB cap) */
  truncated: boolean;
  /** wall time from guest-exec to the exited status (seconds) */
  durationSeconds: number;
}

export interface GuestExecOptions {
  /** bound on the whole command, from start to exited (seconds); default 300 */
  timeoutSeconds?: number;
  /** environment as `NAME=value` strings (qemu-ga replaces the environment when given) */
  env?: string[];
  /** bytes written to the process's standard input */
  input?: string | Buffer;
  /** guest-exec-status polling interval (seconds); default 0.25 */
  pollSeconds?: number;
}

type Json = Record<string, unknown>;

/** Per-command reply timeout once the agent is synced (seconds). */
const COMMAND_TIMEOUT_SECONDS = 30;

/** An open, synced session with the guest agent. Close it with `close()`. */
export class GuestAgentSession {
  readonly #socket: JsonLineSocket;

  private constructor(socket: JsonLineSocket) {
    this.#socket = socket;
  }

  /**
   * Connects to `socketPath` and performs the guest-sync-delimited handshake.
   * @param syncTimeoutSeconds how long to wait for the agent's sync reply (seconds)
   * @throws GuestAgentTimeout when the agent does not answer in time (not running yet)
   * @throws Error (ENOENT, ECONNREFUSED) when the socket does not exist or QEMU is gone
   */
  static async open(socketPath: string, syncTimeoutSeconds: number): Promise<GuestAgentSession> {
    const socket = await JsonLineSocket.connect(socketPath, Math.max(1, syncTimeoutSeconds));
    const session = new GuestAgentSession(socket);
    try {
      await session.#sync(syncTimeoutSeconds);
      return session;
    } catch (error) {
      socket.close();
      if (error instanceof JsonSocketTimeout || error instanceof JsonSocketClosed) {
        throw new GuestAgentTimeout(
          `guest agent on ${socketPath} did not sync within ${syncTimeoutSeconds} s`,
        );
      }
      throw error;
    }
  }

  async #sync(timeoutSeconds: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    this.#socket.writeRaw(Buffer.from([0xff]));
    this.#socket.send({ execute: 'guest-sync-delimited', arguments: { id } });
    await this.#socket.next((message) => message.return === id, timeoutSeconds);
  }

  /**
   * Runs one agent command and returns its `return` value.
   * @throws GuestAgentError on an `{"error": …}` reply
   * @throws JsonSocketTimeout when no reply arrives within `timeoutSeconds` (seconds)
   */
  async execute(command: string, args?: Json, timeoutSeconds = COMMAND_TIMEOUT_SECONDS): Promise<unknown> {
    this.#socket.send(args === undefined ? { execute: command } : { execute: command, arguments: args });
    const reply = await this.#socket.next(
      (message) => 'return' in message || 'error' in message,
      timeoutSeconds,
    );
    if ('error' in reply) {
      const error = (reply.error ?? {}) as { class?: string; desc?: string };
      throw new GuestAgentError(command, error.class ?? 'GenericError', error.desc ?? 'unknown error');
    }
    return reply.return;
  }

  /** `guest-ping`: resolves when the agent answers. */
  async ping(): Promise<void> {
    await this.execute('guest-ping');
  }

  /**
   * Runs `path` with `args` in the guest (no shell unless you run one) and waits for it to exit.
   * @throws GuestExecTimeout when it has not exited after `options.timeoutSeconds` (default 300 s)
   * @throws GuestAgentError when the agent refuses the command (e.g. the path does not exist)
   */
  async exec(path: string, args: string[] = [], options: GuestExecOptions = {}): Promise<GuestExecResult> {
    const timeoutSeconds = options.timeoutSeconds ?? 300;
    const pollMs = (options.pollSeconds ?? 0.25) * 1000;
    const started = Date.now();
    const request: Json = { path, arg: args, 'capture-output': true };
    if (options.env !== undefined) request.env = options.env;
    if (options.input !== undefined) request['input-data'] = Buffer.from(options.input).toString('base64');
    const { pid } = (await this.execute('guest-exec', request)) as { pid: number };
    for (;;) {
      const status = (await this.execute('guest-exec-status', { pid })) as GuestExecStatus;
      if (status.exited) return toResult(status, (Date.now() - started) / 1000);
      if (Date.now() - started > timeoutSeconds * 1000) {
        await this.execute('guest-exec', { path: '/bin/kill', arg: ['-KILL', String(pid)] }).catch(() => {});
        throw new GuestExecTimeout(`${path} (guest pid ${pid}) did not exit within ${timeoutSeconds} s`);
      }
      await sleep(pollMs);
    }
  }

  close(): void {
    this.#socket.close();
  }
}

interface GuestExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: boolean;
  'err-truncated'?: boolean;
}

/** Decodes a guest-exec-status reply (base64 streams) into a GuestExecResult. Pure. */
export function toResult(status: GuestExecStatus, durationSeconds: number): GuestExecResult {
  const result: GuestExecResult = {
    stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString('utf8'),
    stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8'),
    truncated: Boolean(status['out-truncated'] || status['err-truncated']),
    durationSeconds,
  };
  if (status.exitcode !== undefined) result.exitCode = status.exitcode;
  if (status.signal !== undefined) result.signal = status.signal;
  return result;
}

/**
 * Waits until the guest agent answers guest-sync-delimited and guest-ping (the guest has booted
 * far enough to run commands: the local "SSM Online").
 * @param socketPath host side of the org.qemu.guest_agent.0 channel (`Vm.qgaSocket`)
 * @param timeoutSeconds overall bound (seconds)
 * @returns seconds waited
 * @throws GuestAgentTimeout when the agent has not answered within `timeoutSeconds`
 */
export async function waitForAgent(socketPath: string, timeoutSeconds: number): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutSeconds * 1000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const remaining = (deadline - Date.now()) / 1000;
    try {
      const session = await GuestAgentSession.open(socketPath, Math.min(3, Math.max(0.5, remaining)));
      try {
        await session.ping();
      } finally {
        session.close();
      }
      return (Date.now() - started) / 1000;
    } catch (error) {
      lastError = error;
      await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
    }
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new GuestAgentTimeout(`guest agent on ${socketPath} not ready within ${timeoutSeconds} s${detail}`);
}

/**
 * Opens a session, runs one command with guest-exec and closes the session.
 * @see GuestAgentSession.exec for options, units and errors
 * @throws GuestAgentTimeout when the agent does not sync within 10 s
 */
export async function guestExec(
  socketPath: string,
  path: string,
  args: string[] = [],
  options: GuestExecOptions = {},
): Promise<GuestExecResult> {
  const session = await GuestAgentSession.open(socketPath, 10);
  try {
    return await session.exec(path, args, options);
  } finally {
    session.close();
  }
}

/** Runs `script` with `/bin/sh -c` in the guest. @see guestExec */
export async function guestShell(
  socketPath: string,
  script: string,
  options: GuestExecOptions = {},
): Promise<GuestExecResult> {
  return await guestExec(socketPath, '/bin/sh', ['-c', script], options);
}
