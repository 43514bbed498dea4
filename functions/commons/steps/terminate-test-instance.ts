import type { MachineLauncher } from '../ports.js';

/**
 * State `TerminateTestInstance`: terminate the test instance after a passed probe.
 * @returns `$.termination` `{ instanceIds }` — the ids whose termination was requested.
 */
export async function terminateTestInstance(
  input: { testInstance: { instanceId: string } },
  ports: { launcher: Pick<MachineLauncher, 'terminate'> },
): Promise<{ instanceIds: string[] }> {
  return {
    instanceIds: await ports.launcher.terminate([input.testInstance.instanceId]),
  };
}
