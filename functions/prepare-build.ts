/**
 * Task `PrepareBuild` → `prepareBuild()`. Env: PROBE_TIMEOUT_SECONDS, INCIDENT_RESPONSE_PLAN_ARN,
 * SOURCE_REPOSITORY, GIT_TOKEN_PARAMETER (optional), SOURCE_BRANCH (default main), STAGE and
 * PROMOTION_LEDGER_TABLE (the build sequence), CHANNEL_PARAMETER_PREFIX (a layered build's parent
 * channel pointer), DISTRIBUTION (the pipelines' distribution settings), ROLLOUT (the channels'
 * rollout settings) and AWS_REGION (the stack's region, first of every distribution),
 * ARCHITECTURES (what each pipeline builds), BUILDER_INSTANCE_TYPE[_ARM64] and
 * TEST_INSTANCE_TYPE[_ARM64] (per architecture), VULNERABILITY_THRESHOLD (checked only: a
 * malformed value fails here, before the bake; InspectCandidate applies it).
 */
import {
  channelPointer,
  imageStore,
  promotionLedger,
  revisionResolver,
  sourceResolver,
} from '#commons/aws/wiring.js';
import { config } from '#commons/config.js';
import { PrepareBuildInput } from '#commons/handler-inputs.js';
import { logger } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';

const ports = {
  sources: sourceResolver(),
  revisions: revisionResolver(),
  ledger: promotionLedger(),
  parents: { pointer: channelPointer(), images: imageStore() },
};
// Read here too, so a malformed VULNERABILITY_THRESHOLD fails the build before its bake (InspectCandidate applies it).
const vulnerabilityThreshold = config.vulnerabilityThreshold;
const options = {
  probeTimeoutSeconds: config.probeTimeoutSeconds,
  incidentResponsePlanArn: config.incidentResponsePlanArn,
  alerting: config.alerting,
  defaultSource: { repository: config.sourceRepository, branch: config.sourceBranch },
  distribution: { settings: config.distributionSettings, homeRegion: config.region },
  architectures: config.architectureSettings,
  instanceTypes: config.instanceTypes,
  rollout: config.rolloutSettings,
};

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handlePrepareBuild(input: PrepareBuildInput) {
  const build = await prepareBuild(input, ports, options);
  logger.info('build prepared', {
    buildId: build.buildId,
    sourceImageId: build.sourceImageId,
    architecture: build.architecture,
    instanceTypes: build.instanceTypes,
    parent: build.parent,
    repository: build.repository,
    commit: build.commit,
    order: build.order,
    regions: build.distribution?.regions.map((target) => target.region),
    rollout: build.rollout,
    vulnerabilityThreshold,
  });
  return build;
}

export const handler = lambdaHandler(PrepareBuildInput, handlePrepareBuild);
