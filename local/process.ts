import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FactoryError } from '#commons/errors.js';

/** Root of the project (the directory holding package.json). */
export const PROJECT_ROOT: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A command that exited non-zero or by a signal. */
export class CommandFailed extends FactoryError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly tail: string,
  ) {
    super('CommandFailed', `${command} exited with ${exitCode ?? 'a signal'}${tail ? `:\n${tail}` : ''}`);
  }
}

export interface RunOptions {
  /** Extra environment on top of the current one. */
  env?: Record<string, string>;
  /** Every output line is appended here (created if missing). */
  logFile?: string;
  /** Called with each output line (stdout and stderr), without its newline. */
  onLine?: (line: string) => void;
  /** Aborting sends SIGTERM to the process group, then SIGKILL after `killGraceSeconds`. */
  signal?: AbortSignal;
  /** Seconds between SIGTERM and SIGKILL on abort (default 60: Packer needs time to clean up). */
  killGraceSeconds?: number;
}

/**
 * Runs `bash -c 'source scripts/env.sh && exec "$@"' -- command args…` from the project root, so
 * the pinned toolchain (Packer, Ansible) is used. The child gets its own process group, which an
 * abort signals as a whole (Packer's qemu and ansible-playbook children included).
 * @returns the last 40 output lines, once `logFile` (when given) is flushed and closed.
 * @throws CommandFailed on a non-zero exit (with the last 40 lines).
 */
export function runTool(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const tail: string[] = [];
  return new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', 'source scripts/env.sh && exec "$@"', '--', command, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      killTimer = setTimeout(
        () => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        },
        (options.killGraceSeconds ?? 60) * 1000,
      );
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const feed = (chunk: Buffer, state: { rest: string }): void => {
      const text = state.rest + chunk.toString('utf8');
      const lines = text.split('\n');
      state.rest = lines.pop() ?? '';
      for (const line of lines) emit(line);
    };
    const emit = (line: string): void => {
      log?.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 40) tail.shift();
      options.onLine?.(line);
    };
    const out = { rest: '' };
    const err = { rest: '' };
    child.stdout.on('data', (chunk: Buffer) => feed(chunk, out));
    child.stderr.on('data', (chunk: Buffer) => feed(chunk, err));
    child.on('error', reject);
    child.on('close', (code) => {
      for (const state of [out, err]) if (state.rest) emit(state.rest);
      options.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      // Settle once the log file holds every line: `end()` only queues the close, and a caller
      // reading the log right after (the bake's diagnostics, the tests) would see a partial file.
      const settle = (): void => {
        if (code === 0) resolve(tail.join('\n'));
        else reject(new CommandFailed(`${command} ${args[0] ?? ''}`.trim(), code, tail.join('\n')));
      };
      if (log) log.end(settle);
      else settle();
    });
  });
}
