/**
 * Trigger: GitHub `push` webhook on a Lambda function URL.
 *
 * - 413 when the body is larger than `WEBHOOK_MAX_BODY_BYTES` (checked first, before any work);
 * - 401 when `X-Hub-Signature-256` is missing or does not match the HMAC of the raw body (function
 *   URLs may deliver the body base64-encoded; it is decoded before the HMAC);
 * - 200 for `ping`, other events, other branches, tags and deleted refs (no execution);
 * - 403 for a push from a repository whose `full_name` is not on `ALLOWED_REPOSITORIES`;
 * - 200 `stale push ignored` when the pushed commit is no longer the head of the branch;
 * - 202 when a build started; 200 when the deterministic execution already existed — which is what a
 *   redelivery (same `X-GitHub-Delivery`, same commit) yields.
 *
 * Replay protection. A signed delivery stays valid forever: the signature covers the body only,
 * with no timestamp, and `X-GitHub-Delivery` is one id per event that GitHub's own redeliveries
 * reuse (GitHub Docs, "Best practices for using webhooks", *Use the X-GitHub-Delivery header*,
 * https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks, and
 * github/docs#32822). Deduplicating delivery ids would need a store kept longer than an attacker
 * keeps a captured delivery. Instead a push builds only while its `after` commit is still the head
 * of the branch, read from the repository itself (git ref discovery, `GitRevisionResolver`): an
 * old delivery replayed after the branch moved on is ignored, so it can never rebuild (and then
 * promote) an old commit. A replay of the latest push is the same build as the original (same
 * deterministic execution name, `ExecutionAlreadyExists` for 90 days).
 * Secret: SSM SecureString `GITHUB_WEBHOOK_SECRET_PARAMETER`, cached 5 minutes, never logged.
 * Configure the webhook with content type `application/json` (a form-encoded body answers 400).
 * Push payload: https://docs.github.com/en/webhooks/webhook-events-and-payloads#push
 * Env: PIPELINES, STATE_MACHINE_ARN, GITHUB_WEBHOOK_SECRET_PARAMETER, SOURCE_BRANCH (main), DEFAULT_CHANNEL,
 * ALLOWED_REPOSITORIES, WEBHOOK_MAX_BODY_BYTES (1 MiB), GIT_TOKEN_PARAMETER (private repositories),
 * CHANNEL_PARAMETER_PREFIX (layered pipelines: parent channel pointers).
 */

import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { LambdaFunctionUrlSchema } from '@aws-lambda-powertools/parser/schemas/lambda';
import * as z from 'zod';
import { startBuild } from '#commons/aws/start-execution.js';
import { startPushBuilds } from '#commons/aws/triggers.js';
import { channelPointer, httpsRevisionResolver, sourceResolver } from '#commons/aws/wiring.js';
import { sfn } from '#commons/clients/sfn.js';
import { ssm } from '#commons/clients/ssm.js';
import { config } from '#commons/config.js';
import { bodyByteLength, isGitHubRepositoryAllowed } from '#commons/core/trigger-guards.js';
import { verifyGitHubSignature } from '#commons/core/webhook-signature.js';
import { MissingConfiguration } from '#commons/errors.js';
import { logger, MetricUnit, metrics } from '#commons/powertools/index.js';
import { lambdaHandler } from '#commons/powertools/middleware.js';
import { FullCommitSha as CommitSha, RepositoryUrl } from '#commons/schemas.js';

const PushPayload = z.looseObject({
  ref: z.string(),
  after: CommitSha,
  deleted: z.boolean().optional(),
  // clone_url: the HTTPS URL the runner fetches (private repositories with the git token).
  repository: z.looseObject({ full_name: z.string(), clone_url: RepositoryUrl }),
});

const ZERO_SHA = /^0+$/;

export interface FunctionUrlResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const respond = (statusCode: number, body: Record<string, unknown>): FunctionUrlResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const pipelines = config.pipelines;
const branch = config.sourceBranch;
const secretParameter = config.githubWebhookSecretParameter;
const stateMachineArn = config.stateMachineArn;
const allowed = config.allowedRepositories;
const maxBodyBytes = config.webhookMaxBodyBytes;
const revisions = httpsRevisionResolver();
/** Created on the first request, with the SSM client (lazy, see `#commons/clients`). */
let secrets: SSMProvider | undefined;
const deps = {
  sources: sourceResolver(),
  pointer: channelPointer(),
  start: (input: Parameters<typeof startBuild>[2], sourceImageId: string) =>
    startBuild(sfn, stateMachineArn, input, sourceImageId),
};

/** The handler without its middleware chain, which `lambdaHandler` adds below: parsed input in, result out. */
async function handleGitHubWebhook(
  event: z.infer<typeof LambdaFunctionUrlSchema>,
): Promise<FunctionUrlResponse> {
  const headers = Object.fromEntries(
    Object.entries(event.headers ?? {}).map(([key, value]) => [key.toLowerCase(), value]),
  );
  const githubEvent = headers['x-github-event'];
  logger.appendKeys({ githubDelivery: headers['x-github-delivery'], githubEvent });
  const size = bodyByteLength(event.body, event.isBase64Encoded);
  if (size > maxBodyBytes) {
    metrics.addMetric('WebhookRejected', MetricUnit.Count, 1);
    logger.warn('webhook body too large', { bytes: size, limit: maxBodyBytes });
    return respond(413, { message: `body of ${size} bytes is larger than ${maxBodyBytes} bytes` });
  }
  const rawBody = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  secrets ??= new SSMProvider({ awsSdkV3Client: ssm() });
  const secret = await secrets.get(secretParameter, { decrypt: true, maxAge: 300 });
  if (typeof secret !== 'string' || secret === '') {
    throw new MissingConfiguration(`parameter ${secretParameter} holds no webhook secret`);
  }
  if (!verifyGitHubSignature(secret, rawBody, headers['x-hub-signature-256'])) {
    metrics.addMetric('WebhookRejected', MetricUnit.Count, 1);
    logger.warn('webhook signature rejected');
    return respond(401, { message: 'invalid or missing X-Hub-Signature-256' });
  }
  if (githubEvent === 'ping') return respond(200, { message: 'pong' });
  if (githubEvent !== 'push') return respond(200, { message: `event ${githubEvent ?? 'unknown'} ignored` });

  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return respond(400, { message: 'body is not JSON' });
  }
  const parsed = PushPayload.safeParse(json);
  if (!parsed.success) return respond(400, { message: 'not a push payload' });
  const push = parsed.data;
  if (push.deleted === true || ZERO_SHA.test(push.after))
    return respond(200, { message: 'deleted ref ignored' });
  if (push.ref.startsWith('refs/tags/')) return respond(200, { message: 'tag push ignored' });
  if (push.ref !== `refs/heads/${branch}`) return respond(200, { message: `push to ${push.ref} ignored` });

  if (!isGitHubRepositoryAllowed(allowed, push.repository.full_name)) {
    metrics.addMetric('WebhookRejected', MetricUnit.Count, 1);
    logger.warn('repository not allowed', { repository: push.repository.full_name });
    return respond(403, { message: `repository ${push.repository.full_name} is not allowed` });
  }
  const head = await revisions.headOf(push.repository.clone_url, branch);
  if (head !== push.after) {
    metrics.addMetric('StalePushIgnored', MetricUnit.Count, 1);
    logger.warn('stale push ignored', { commit: push.after, head });
    return respond(200, { message: `stale push ignored: ${branch} is now at ${head}` });
  }
  const executions = await startPushBuilds(
    pipelines,
    { commit: push.after, repository: push.repository.clone_url },
    deps,
  );
  const started = executions.filter((execution) => execution.started).length;
  metrics.addMetric('BuildsStarted', MetricUnit.Count, started);
  logger.info('builds requested', { commit: push.after, executions });
  return respond(started > 0 ? 202 : 200, { executions });
}

export const handler = lambdaHandler(LambdaFunctionUrlSchema, handleGitHubWebhook);
