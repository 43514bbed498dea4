import type { MachineLauncher } from '../ports.js';

/**
 * State `TerminateTestInstance`: terminate the test instance after a passed probe.
 * @returns `$.termination` `{ instanceIds }` — the ids whose termination was requested.
 */
export const terminateTestInstance = async (
  input: { testInstance: { instanceId: string } },
  ports: { launcher: Pick<MachineLauncher, 'terminate'> },
): Promise<{ instanceIds: string[] }> => ({
  instanceIds: await ports.launcher.terminate([input.testInstance.instanceId]),
});
