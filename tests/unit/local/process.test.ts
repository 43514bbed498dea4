/**
 * Running a tool of the pinned toolchain (`local/process.ts` `runTool`): output lines as they come,
 * the last lines on success or in the `CommandFailed` error, and an abort that stops the tool's
 * whole process group.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandFailed, runTool } from '#local/process.js';

/** True once `pid` is gone or a zombie (a container's init may not reap it), polling for 5 s. */
const stopped = async (pid: number): Promise<boolean> => {
  for (let waited = 0; waited < 5000; waited += 100) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    // Field 3 of /proc/<pid>/stat is the state; the command name before it is in parentheses.
    if (stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
};

describe('runTool', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'run-tool-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes every stdout and stderr line on, logs them, and returns the last 40', async () => {
    // Prepare
    const seen: string[] = [];
    const logFile = join(dir, 'tool.log');
    const script = 'for i in $(seq 1 45); do echo "line $i"; done; echo "to stderr" >&2; printf "no newline"';

    // Act
    const tail = await runTool('bash', ['-c', script], { onLine: (line) => seen.push(line), logFile });

    // Assess
    expect(seen).toHaveLength(47);
    expect(seen).toContain('to stderr');
    expect(seen.at(-1)).toBe('no newline');
    const lines = tail.split('\n');
    expect(lines).toHaveLength(40);
    expect(lines[0]).toBe('line 8');
    expect((await readFile(logFile, 'utf8')).split('\n')).toHaveLength(48);
  });

  it('runs with the extra environment on top of the current one', async () => {
    expect(await runTool('bash', ['-c', 'echo "$RUN_TOOL_TEST"'], { env: { RUN_TOOL_TEST: 'set' } })).toBe(
      'set',
    );
  });

  it('fails with CommandFailed naming the command, its exit status and its last lines', async () => {
    const failure = runTool('bash', ['-c', 'echo "what went wrong"; exit 3']);
    await expect(failure).rejects.toBeInstanceOf(CommandFailed);
    await expect(failure).rejects.toMatchObject({
      command: 'bash -c',
      exitCode: 3,
      tail: 'what went wrong',
      message: 'bash -c exited with 3:\nwhat went wrong',
    });
  });

  it('stops the whole process group on abort, children included', async () => {
    // Prepare: the tool starts a child that writes its pid, then both sleep.
    const controller = new AbortController();
    const pidFile = join(dir, 'child.pid');
    const running = runTool('bash', ['-c', `sleep 60 & echo $! > ${pidFile}; echo started; wait`], {
      signal: controller.signal,
      onLine: (line) => {
        if (line === 'started') controller.abort();
      },
      killGraceSeconds: 5,
    });

    // Act + Assess: killed by a signal, no exit status.
    await expect(running).rejects.toMatchObject({ name: 'CommandFailed', exitCode: null });
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    expect(await stopped(child)).toBe(true);
  });
});
