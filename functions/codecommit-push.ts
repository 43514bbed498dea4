/**
 * Trigger: EventBridge "CodeCommit Repository State Change" (`referenceCreated`/`referenceUpdated`
 * on the configured branch) starts one build per configured pipeline at the pushed commit.
 * Event reference: https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html
 * Only repositories whose ARN (`resources[0]`) is on `ALLOWED_REPOSITORIES` start builds; any other is
 * ignored and counted (`PushRefused`). The event comes from AWS itself (source `aws.codecommit` can
 * only be put by CodeCommit), so it needs no replay check of its own.
 * Env: PIPELINES, STATE_MACHINE_ARN, SOURCE_BRANCH (main), CODECOMMIT_REPOSITORY (optional), DEFAULT_CHANNEL,
 * ALLOWED_REPOSITORIES, CHANNEL_PARAMETER_PREFIX (layered pipelines: parent channel pointers).
 */

import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import * as z from 'zod';
import { startBuild } from '#commons/aws/start-execution.js';
import { codeCommitRepositoryUrl, startPushBuilds } from '#commons/aws/triggers.js';
import { channelPointer, sourceResolver } from '#commons/aws/wiring.js';
import { sfn } from '#commons/clients/sfn.js';
import { config } from '#commons/config.js';
import { isCodeCommitRepositoryAllowed } from '#commons/core/trigger-guards.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { FullCommitSha as CommitSha } from '#commons/schemas.js';

export const CodeCommitStateChange = EventBridgeSchema.extend({
  source: z.literal('aws.codecommit'),
  'detail-type': z.literal('CodeCommit Repository State Change'),
  detail: z.looseObject({
    event: z.string(),
    repositoryName: z.string(),
    referenceType: z.string(),
    referenceName: z.string(),
    commitId: CommitSha.optional(),
  }),
});

const pipelines = config.pipelines;
const branch = config.sourceBranch;
const repositoryFilter = config.codeCommitRepository;
const stateMachineArn = config.stateMachineArn;
const allowed = config.allowedRepositories;
const deps = {
  sources: sourceResolver(),
  pointer: channelPointer(),
  start: (input: Parameters<typeof startBuild>[2], sourceImageId: string) =>
    startBuild(sfn, stateMachineArn, input, sourceImageId),
};

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleCodeCommitPush(event: z.infer<typeof CodeCommitStateChange>) {
  const { detail } = event;
  const relevant =
    (detail.event === 'referenceUpdated' || detail.event === 'referenceCreated') &&
    detail.referenceType === 'branch' &&
    detail.referenceName === branch &&
    (repositoryFilter === undefined || detail.repositoryName === repositoryFilter) &&
    detail.commitId !== undefined;
  if (!relevant || !detail.commitId) {
    logger.info('push ignored', {
      event: detail.event,
      referenceType: detail.referenceType,
      reference: detail.referenceName,
    });
    return { ignored: true, executions: [] };
  }
  const repositoryArn = event.resources[0];
  if (!isCodeCommitRepositoryAllowed(allowed, repositoryArn)) {
    metrics.addMetric('PushRefused', MetricUnit.Count, 1);
    logger.warn('repository not allowed', { repository: repositoryArn });
    return { ignored: true, executions: [] };
  }
  const executions = await startPushBuilds(
    pipelines,
    { commit: detail.commitId, repository: codeCommitRepositoryUrl(event.region, detail.repositoryName) },
    deps,
  );
  for (const execution of executions) {
    metrics.addMetric(execution.started ? 'BuildsStarted' : 'BuildsAlreadyStarted', MetricUnit.Count, 1);
  }
  logger.info('builds requested', { commit: detail.commitId, executions });
  return { ignored: false, executions };
}

export const handler = lambdaHandler(CodeCommitStateChange, handleCodeCommitPush);
