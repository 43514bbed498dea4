import type { CommandRunner } from '../ports.js';
import type { Build } from '../schemas.js';

/**
 * State `ProbeTestInstance`: start the probe suite on the test instance (asynchronous; results are
 * read by `CheckProbeResult`). The suite may run for `build.probeTimeoutSeconds` seconds.
 * @returns `$.probe` `{ commandId, instanceId }`.
 */
export async function probeTestInstance(
  input: { build: Build; testInstance: { instanceId: string } },
  ports: { runner: CommandRunner },
): Promise<{ commandId: string; instanceId: string }> {
  const { instanceId } = input.testInstance;
  const { commandId } = await ports.runner.startProbe(instanceId, {
    timeoutSeconds: input.build.probeTimeoutSeconds,
    buildId: input.build.buildId,
  });
  return { commandId, instanceId };
}
