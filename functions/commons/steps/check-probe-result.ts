import { probeVerdict } from '../core/probe-verdict.js';
import { ProbeFailed, ProbeTimedOut } from '../errors.js';
import type { CommandRunner } from '../ports.js';
import type { ProbeResult } from '../schemas.js';

/**
 * State `CheckProbeResult`: read the probe invocation once and, when it finished, apply the verdict.
 * While it runs, returns `status: Pending|InProgress` and the ASL waits (`WaitForProbe`).
 * @returns `$.probeResult` `{ status, attempt, checks, passed, failed, summary }` — only with `passed: true` once finished.
 * @throws ProbeFailed when any check failed or the output is unusable (message lists failed checks).
 * @throws ProbeTimedOut when the command timed out on the instance or `maxAttempts` reads elapsed.
 * @throws InvocationDoesNotExist (from the runner) right after the start; the ASL retries it.
 */
export async function checkProbeResult(
  input: { probe: { commandId: string; instanceId: string }; probeResult?: { attempt: number } | undefined },
  ports: { runner: CommandRunner },
  options: { maxAttempts: number },
): Promise<ProbeResult> {
  const attempt = (input.probeResult?.attempt ?? 0) + 1;
  const { commandId, instanceId } = input.probe;
  const result = await ports.runner.readProbe(commandId, instanceId);
  if (result.status === 'Pending' || result.status === 'InProgress') {
    if (attempt >= options.maxAttempts) {
      throw new ProbeTimedOut(
        `probe ${commandId} on ${instanceId} still ${result.status} after ${attempt} reads`,
      );
    }
    return { status: result.status, attempt, checks: [], passed: false, failed: [] };
  }
  if (result.status === 'TimedOut') throw new ProbeTimedOut(`probe ${commandId} on ${instanceId} timed out`);
  const verdict = probeVerdict(result.stdout, result.exitCode);
  if (!verdict.passed) {
    const details = verdict.checks
      .filter((check) => !check.ok)
      .map((check) => `${check.name}: ${check.detail}`)
      .join('; ');
    throw new ProbeFailed(
      `probe failed on ${instanceId}: ${verdict.failed.join(', ')} (${verdict.summary})${details ? ` — ${details}` : ''}`,
    );
  }
  return {
    status: 'Success',
    attempt,
    checks: verdict.checks,
    passed: true,
    failed: [],
    summary: verdict.summary,
  };
}
