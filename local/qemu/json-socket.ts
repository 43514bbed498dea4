import { connect, type Socket } from 'node:net';
import { FactoryError } from '#commons/errors.js';

/**
 * A JSON-lines client over a unix socket, shared by the QMP and guest-agent clients.
 *
 * Both QEMU protocols send one JSON object per line (QMP: docs/interop/qmp-spec.rst; QGA:
 * docs/interop/qemu-ga-ref, "guest-sync-delimited"). The guest agent may prefix a reply with the
 * 0xFF sentinel byte; those bytes are dropped here, so a caller only sees JSON objects.
 */

/** Thrown when the socket cannot be reached or a reply does not arrive in time. */
export class JsonSocketTimeout extends FactoryError {
  constructor(message: string) {
    super('JsonSocketTimeout', message);
  }
}

/** Thrown when the peer closes the connection while a reply is awaited. */
export class JsonSocketClosed extends FactoryError {
  constructor(message: string) {
    super('JsonSocketClosed', message);
  }
}

type Json = Record<string, unknown>;

interface Waiter {
  accept: (message: Json) => boolean;
  resolve: (message: Json) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class JsonLineSocket {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  readonly #queue: Json[] = [];
  readonly #waiters: Waiter[] = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('close', () => this.#onClose());
    socket.on('error', () => this.#onClose());
  }

  /**
   * Connects to the unix socket at `path`.
   * @param timeoutSeconds how long to wait for the connection (seconds)
   * @throws JsonSocketTimeout when the connection is not established in time
   * @throws Error (ENOENT, ECONNREFUSED) when nothing listens on `path`
   */
  static async connect(path: string, timeoutSeconds: number): Promise<JsonLineSocket> {
    return await new Promise<JsonLineSocket>((resolve, reject) => {
      const socket = connect({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new JsonSocketTimeout(`no connection to ${path} within ${timeoutSeconds} s`));
      }, timeoutSeconds * 1000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new JsonLineSocket(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      });
    });
  }

  /** Writes raw bytes (the QGA 0xFF flush byte). */
  writeRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** Writes one JSON object followed by a newline. */
  send(message: Json): void {
    this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * Resolves with the first message (queued or future) for which `accept` is true; messages that
   * are not accepted are discarded.
   * @throws JsonSocketTimeout after `timeoutSeconds` (seconds)
   * @throws JsonSocketClosed when the peer closes first
   */
  async next(accept: (message: Json) => boolean, timeoutSeconds: number): Promise<Json> {
    while (this.#queue.length > 0) {
      const message = this.#queue.shift() as Json;
      if (accept(message)) return message;
    }
    if (this.#closed) throw new JsonSocketClosed('connection closed');
    return await new Promise<Json>((resolve, reject) => {
      const waiter: Waiter = {
        accept,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#removeWaiter(waiter);
          reject(new JsonSocketTimeout(`no reply within ${timeoutSeconds} s`));
        }, timeoutSeconds * 1000),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Closes the connection; pending waits reject with JsonSocketClosed. */
  close(): void {
    this.#socket.destroy();
    this.#onClose();
  }

  #removeWaiter(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const newline = this.#buffer.indexOf(0x0a);
      if (newline < 0) break;
      const line = Buffer.from(this.#buffer.subarray(0, newline).filter((byte) => byte !== 0xff))
        .toString('utf8')
        .trim();
      this.#buffer = this.#buffer.subarray(newline + 1);
      if (line === '') continue;
      let message: Json;
      try {
        message = JSON.parse(line) as Json;
      } catch {
        continue; // a partial line left from an earlier session: the sync handshake resolves it
      }
      this.#dispatch(message);
    }
  }

  #dispatch(message: Json): void {
    const waiter = this.#waiters[0];
    if (waiter === undefined) {
      this.#queue.push(message);
      return;
    }
    if (waiter.accept(message)) {
      this.#waiters.shift();
      clearTimeout(waiter.timer);
      waiter.resolve(message);
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new JsonSocketClosed('connection closed'));
    }
  }
}
