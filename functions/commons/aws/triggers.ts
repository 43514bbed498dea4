/**
 * Trigger logic shared by the trigger handlers (AWS only: they start Step Functions executions).
 *
 * Why a base-image *watcher*: AWS publishes new source AMIs by updating public SSM parameters
 * (`/aws/service/...`), but those parameters emit no EventBridge change events to other accounts
 * (Parameter Store change events only cover your own parameters), so a schedule polls them.
 * Amazon Linux also announces new AMIs on a public SNS topic, which is wired as an extra trigger.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-cwe.html
 */
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ClientProvider } from '../clients/lazy-client.js';
import type { PipelineConfig } from '../config.js';
import { assertTrustedSource, getBaseImage } from '../core/base-images.js';
import type { SourceImageResolver } from '../ports.js';
import type { ExecutionInput } from '../schemas.js';
import type { StartResult } from './start-execution.js';

export type StartBuild = (input: ExecutionInput & { sourceImageId: string }) => Promise<StartResult>;

/** Last source AMI seen per pipeline: SSM parameter `<prefix>/<pipeline>`. */
export class LastSeenStore {
  constructor(
    private readonly client: ClientProvider<SSMClient>,
    private readonly prefix: string,
  ) {}

  async get(pipeline: string): Promise<string | undefined> {
    try {
      const { Parameter } = await this.client().send(
        new GetParameterCommand({ Name: `${this.prefix}/${pipeline}` }),
      );
      return Parameter?.Value;
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return undefined;
      throw error;
    }
  }

  async put(pipeline: string, imageId: string): Promise<void> {
    await this.client().send(
      new PutParameterCommand({
        Name: `${this.prefix}/${pipeline}`,
        Value: imageId,
        Type: 'String',
        Overwrite: true,
      }),
    );
  }
}

/**
 * Resolve a pipeline's current source image and check its publisher.
 * @throws ForeignBaseImage when the public parameter points to an AMI of an untrusted owner.
 */
export const resolveTrustedSource = async (sources: SourceImageResolver, baseImage: string) => {
  const base = getBaseImage(baseImage);
  const source = await sources.resolve(base.name);
  assertTrustedSource(base, source);
  return source;
};

export interface WatchResult {
  pipeline: string;
  baseImage: string;
  sourceImageId: string;
  changed: boolean;
  executionName?: string;
  started?: boolean;
}

/**
 * For each pipeline: read the current source AMI, compare with the last one seen, start a build
 * when it changed, then record it. The last-seen value moves only after the start succeeded (or
 * the execution already existed), so a failed start is retried on the next run.
 * @throws ForeignBaseImage or AWS errors after every pipeline was tried (first error wins).
 */
export const watchBaseImages = async (
  pipelines: readonly PipelineConfig[],
  deps: { sources: SourceImageResolver; lastSeen: LastSeenStore; start: StartBuild },
): Promise<WatchResult[]> => {
  const results: WatchResult[] = [];
  const errors: unknown[] = [];
  for (const { pipeline, imageDefinition, baseImage, channel } of pipelines) {
    try {
      const source = await resolveTrustedSource(deps.sources, baseImage);
      const lastSeen = await deps.lastSeen.get(pipeline);
      if (lastSeen === source.imageId) {
        results.push({ pipeline, baseImage, sourceImageId: source.imageId, changed: false });
        continue;
      }
      const started = await deps.start({
        pipeline,
        channel,
        trigger: 'base-image',
        baseImage,
        imageDefinition,
        sourceImageId: source.imageId,
      });
      await deps.lastSeen.put(pipeline, source.imageId);
      results.push({
        pipeline,
        baseImage,
        sourceImageId: source.imageId,
        changed: true,
        executionName: started.executionName,
        started: started.started,
      });
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
  return results;
};

export interface PushResult {
  pipeline: string;
  executionName: string;
  started: boolean;
}

/**
 * The git-remote-codecommit URL the runner fetches a CodeCommit repository with
 * (`codecommit::<region>://<name>`, https://github.com/aws/git-remote-codecommit#readme).
 */
export const codeCommitRepositoryUrl = (region: string, repositoryName: string): string =>
  `codecommit::${region}://${repositoryName}`;

/**
 * Start one build per configured pipeline for a pushed commit (deterministic names: redelivery is
 * a no-op). `push.repository` is the URL the runner fetches (GitHub `clone_url`,
 * {@link codeCommitRepositoryUrl}).
 */
export const startPushBuilds = async (
  pipelines: readonly PipelineConfig[],
  push: { commit: string; repository: string },
  deps: { sources: SourceImageResolver; start: StartBuild },
): Promise<PushResult[]> => {
  const results: PushResult[] = [];
  for (const { pipeline, imageDefinition, baseImage, channel } of pipelines) {
    const source = await resolveTrustedSource(deps.sources, baseImage);
    const started = await deps.start({
      pipeline,
      channel,
      trigger: 'git-push',
      baseImage,
      imageDefinition,
      sourceImageId: source.imageId,
      commit: push.commit,
      repository: push.repository,
    });
    results.push({ pipeline, executionName: started.executionName, started: started.started });
  }
  return results;
};
