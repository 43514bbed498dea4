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
import { resolvePipelineSource, type SourceDeps } from '../build-source.js';
import type { ClientProvider } from '../clients/lazy-client.js';
import { type Architecture, DEFAULT_ARCHITECTURE, trackOf } from '../core/architectures.js';
import type { ExecutionInput } from '../execution-input.js';
import type { PipelineConfig } from '../pipelines.js';
import type { StartResult } from './start-execution.js';

/**
 * Start a build; `sourceImageId` is the image it will bake from, which names the execution
 * (`input.sourceImageId`, or the image a layered pipeline's parent channel names now).
 */
export type StartBuild = (input: ExecutionInput, sourceImageId: string) => Promise<StartResult>;

/**
 * Last source AMI seen per track (`core/architectures.ts`): SSM parameter `<prefix>/<track>`, i.e.
 * `<prefix>/<pipeline>` for x86_64 (as before architectures) and `<prefix>/<pipeline>/arm64`.
 */
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

/** The architectures a configured pipeline builds, in order (x86_64 alone when it declares none). */
const architecturesOfEntry = (entry: PipelineConfig): readonly Architecture[] =>
  entry.architectures ?? [DEFAULT_ARCHITECTURE];

export interface WatchResult {
  pipeline: string;
  architecture: Architecture;
  /** The base image, or `pipeline:<parent>/<channel>` for a layered pipeline. */
  baseImage: string;
  /** Undefined when a layered pipeline's parent channel names no image yet. */
  sourceImageId?: string;
  changed: boolean;
  executionName?: string;
  started?: boolean;
}

/** How results and logs name a pipeline's source. */
const sourceLabel = (entry: PipelineConfig): string =>
  entry.parent ? `pipeline:${entry.parent.pipeline}/${entry.parent.channel}` : entry.baseImage;

/**
 * For each pipeline and each architecture it declares: read the current source (the base image's source AMI, or a layered pipeline's
 * parent channel image, so a parent's promotion rebuilds its children), compare with the last one
 * seen, start a build when it changed, then record it. The last-seen value moves only after the
 * start succeeded (or the execution already existed), so a failed start is retried on the next run.
 * @throws ForeignBaseImage or AWS errors after every pipeline was tried (first error wins).
 */
export const watchBaseImages = async (
  pipelines: readonly PipelineConfig[],
  deps: SourceDeps & { lastSeen: LastSeenStore; start: StartBuild },
): Promise<WatchResult[]> => {
  const results: WatchResult[] = [];
  const errors: unknown[] = [];
  for (const entry of pipelines) {
    const { pipeline, imageDefinition, channel } = entry;
    const baseImage = sourceLabel(entry);
    for (const architecture of architecturesOfEntry(entry)) {
      const track = trackOf(pipeline, architecture);
      try {
        const source = await resolvePipelineSource({ ...entry, architecture }, deps);
        const lastSeen = await deps.lastSeen.get(track);
        if (!source || lastSeen === source.sourceImageId) {
          results.push({
            pipeline,
            architecture,
            baseImage,
            ...(source ? { sourceImageId: source.sourceImageId } : {}),
            changed: false,
          });
          continue;
        }
        const started = await deps.start(
          {
            pipeline,
            channel,
            trigger: 'base-image',
            imageDefinition,
            ...architectureInput(architecture),
            ...source.input,
          },
          source.sourceImageId,
        );
        await deps.lastSeen.put(track, source.sourceImageId);
        results.push({
          pipeline,
          architecture,
          baseImage,
          sourceImageId: source.sourceImageId,
          changed: true,
          executionName: started.executionName,
          started: started.started,
        });
      } catch (error) {
        errors.push(error);
      }
    }
  }
  if (errors.length > 0) throw errors[0];
  return results;
};

/**
 * `{ architecture }` for the execution input, nothing for x86_64: the input of an x86_64 build is
 * the one it had before architectures existed.
 */
const architectureInput = (architecture: Architecture): { architecture?: Architecture } =>
  architecture === DEFAULT_ARCHITECTURE ? {} : { architecture };

export interface PushResult {
  pipeline: string;
  architecture: Architecture;
  /** Undefined when nothing was started: a layered pipeline whose parent channel names no image yet. */
  executionName?: string;
  started: boolean;
}

/**
 * The git-remote-codecommit URL the runner fetches a CodeCommit repository with
 * (`codecommit::<region>://<name>`, https://github.com/aws/git-remote-codecommit#readme).
 */
export const codeCommitRepositoryUrl = (region: string, repositoryName: string): string =>
  `codecommit::${region}://${repositoryName}`;

/**
 * Start one build per configured pipeline and declared architecture for a pushed commit (deterministic names: redelivery is
 * a no-op). `push.repository` is the URL the runner fetches (GitHub `clone_url`,
 * {@link codeCommitRepositoryUrl}). A layered pipeline builds on its parent channel's current
 * image, and is skipped (`started: false`, no execution) while that channel names none.
 */
export const startPushBuilds = async (
  pipelines: readonly PipelineConfig[],
  push: { commit: string; repository: string },
  deps: SourceDeps & { start: StartBuild },
): Promise<PushResult[]> => {
  const results: PushResult[] = [];
  for (const entry of pipelines) {
    const { pipeline, imageDefinition, channel } = entry;
    for (const architecture of architecturesOfEntry(entry)) {
      const source = await resolvePipelineSource({ ...entry, architecture }, deps);
      if (!source) {
        results.push({ pipeline, architecture, started: false });
        continue;
      }
      const started = await deps.start(
        {
          pipeline,
          channel,
          trigger: 'git-push',
          imageDefinition,
          ...architectureInput(architecture),
          ...source.input,
          commit: push.commit,
          repository: push.repository,
        },
        source.sourceImageId,
      );
      results.push({
        pipeline,
        architecture,
        executionName: started.executionName,
        started: started.started,
      });
    }
  }
  return results;
};
