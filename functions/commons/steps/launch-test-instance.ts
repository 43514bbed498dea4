import { launchToken } from '../core/build-key.js';
import type { MachineLauncher } from '../ports.js';
import type { Build, Candidate } from '../schemas.js';

/**
 * State `LaunchTestInstance`: boot one test instance from the candidate. The idempotency token is
 * derived from the build id and execution name, so a retried task does not launch twice.
 * @returns `$.testInstance` `{ instanceId }`.
 */
export async function launchTestInstance(
  input: { build: Build; candidate: Candidate },
  ports: { launcher: Pick<MachineLauncher, 'launch'> },
): Promise<{ instanceId: string }> {
  const { build, candidate } = input;
  return ports.launcher.launch({
    imageId: candidate.imageId,
    pipeline: build.pipeline,
    architecture: build.architecture,
    instanceType: build.instanceTypes?.test,
    buildId: build.buildId,
    executionName: build.executionName,
    idempotencyToken: launchToken(build),
  });
}
