/**
 * `npm run bench:retention` on a small backlog: the benchmark seeds its own moto server, runs the
 * packaged ApplyRetention handler until the backlog is gone and prints the figures. Run here so that
 * a change to the handler's configuration or inputs breaks this test, not the next benchmark run.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/process.js';

const run = promisify(execFile);

describe('bench:retention', () => {
  it('deregisters a backlog of 20 expired images and keeps the newest and the current one', async () => {
    // Act
    const { stdout } = await run(
      'node',
      ['--import', 'tsx', 'bench/retention-backlog.ts', '--images', '20'],
      {
        cwd: PROJECT_ROOT,
        timeout: 240_000,
      },
    );

    // Assess
    expect(stdout).toMatch(/outcome complete, counts \{"kept":4,"deregistered":20\}/);
    expect(stdout).toMatch(/20 expired images: \d+ invocation\(s\)/);
  }, 300_000);
});
