/**
 * Task `LaunchTestInstance` → `launchTestInstance()`.
 * Env: TEST_INSTANCE_PROFILE, TEST_INSTANCE_TYPE, TEST_SUBNET_ID, TEST_SECURITY_GROUP_IDS.
 */
import { machineLauncher } from '#commons/aws/wiring.js';
import { LaunchTestInstanceInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { launchTestInstance } from '#commons/steps/launch-test-instance.js';

const ports = { launcher: machineLauncher() };

export const handler = lambdaHandler(LaunchTestInstanceInput, async (input) => {
  const result = await launchTestInstance(input, ports);
  logger.info('test instance launched', { buildId: input.build.buildId, instanceId: result.instanceId });
  return result;
});
