import { InstanceNeverOnline } from '../errors.js';
import type { MachineLauncher } from '../ports.js';

/**
 * State `CheckInstanceOnline`: one poll of the test instance's readiness (SSM agent Online).
 * `attempt` counts this call (previous `$.online.attempt` + 1); the ASL loops through
 * `WaitForInstanceOnline` while `online` is false.
 * @returns `$.online` `{ online, attempt }`.
 * @throws InstanceNeverOnline when still not ready at attempt `maxAttempts`.
 */
export async function checkInstanceOnline(
  input: { testInstance: { instanceId: string }; online?: { attempt: number } | undefined },
  ports: { launcher: Pick<MachineLauncher, 'isReady'> },
  options: { maxAttempts: number },
): Promise<{ online: boolean; attempt: number }> {
  const attempt = (input.online?.attempt ?? 0) + 1;
  const online = await ports.launcher.isReady(input.testInstance.instanceId);
  if (!online && attempt >= options.maxAttempts)
    throw new InstanceNeverOnline(input.testInstance.instanceId, attempt);
  return { online, attempt };
}
