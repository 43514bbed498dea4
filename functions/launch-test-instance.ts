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

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleLaunchTestInstance(input: LaunchTestInstanceInput) {
  const result = await launchTestInstance(input, ports);
  logger.info('test instance launched', { buildId: input.build.buildId, instanceId: result.instanceId });
  return result;
}

export const handler = lambdaHandler(LaunchTestInstanceInput, handleLaunchTestInstance);
