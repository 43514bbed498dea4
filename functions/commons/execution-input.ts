/**
 * The execution input: what a person (console, CLI) or a trigger (base-image watcher, git push)
 * gives a new execution of the state machine, and the `$$.Execution` context PrepareBuild records.
 * Strict: unknown keys are refused, so a typo fails fast.
 */
import * as z from 'zod';
import { BASE_IMAGE_NAMES } from './core/base-images.js';
import {
  ArchitectureSchema,
  Attempt,
  BaseImageNameSchema,
  ChannelName,
  CommitSha,
  ImageDefinitionNameSchema,
  ImageId,
  PipelineName,
  RepositoryUrl,
  Trigger,
} from './schemas.js';

/**
 * The parent of a layered build: a pipeline and the channel whose current image it bakes from
 * (`channel` defaults to `stable`).
 */
export const ParentSource = z.strictObject(
  {
    pipeline: PipelineName,
    channel: ChannelName.default('stable'),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? undefined : 'parent must be { pipeline, channel }',
  },
);
export type ParentSource = z.infer<typeof ParentSource>;

/**
 * The execution input, as documented for users who start an execution by hand:
 *
 * ```json
 * { "pipeline": "web", "baseImage": "ubuntu-24.04",
 *   "channel": "stable", "sourceImageId": "ami-0123456789abcdef0", "commit": "<git sha>" }
 * ```
 * `pipeline` is required, and either `baseImage` or `parent`; `channel` defaults to `stable`, `trigger` to `manual`,
 * `attempt` to 1 (raise it to rebuild a failed build: it changes the execution name);
 * `architecture` to `x86_64` (`arm64` bakes the base image's arm64 source AMI on Graviton);
 * `imageDefinition` (what to bake) to the definition named like the pipeline (PrepareBuild checks);
 * without `sourceImageId` the current public AMI of the base image is used. On AWS the source the
 * definition is baked from is `repository` at `commit`; either defaults (the configured repository,
 * the head of the configured branch), see `steps/prepare-build.ts`. Unknown keys are
 * rejected so that a typo (`baseimage`) fails fast instead of being ignored.
 *
 * A layered build names `parent` instead of a source: `{ "pipeline": "web", "parent":
 * { "pipeline": "base", "channel": "stable" } }` bakes from the image the parent pipeline's channel
 * names and inherits its base image (`baseImage`, when given, must be the same). `parent` excludes
 * `sourceImageId` and must name another pipeline.
 */
export const ExecutionInput = z
  .strictObject(
    {
      pipeline: PipelineName,
      channel: ChannelName.default('stable'),
      trigger: Trigger.default('manual'),
      baseImage: BaseImageNameSchema.optional(),
      /**
       * What to build for (default `x86_64`); one of the pipeline's declared architectures
       * (`ARCHITECTURES`, PrepareBuild checks). A trigger starts one execution per declared one.
       */
      architecture: ArchitectureSchema.optional(),
      /** Layered build: bake from the image this pipeline's channel names (`core/layering.ts`). */
      parent: ParentSource.optional(),
      imageDefinition: ImageDefinitionNameSchema.optional(),
      sourceImageId: ImageId.optional(),
      commit: CommitSha.optional(),
      repository: RepositoryUrl.optional(),
      attempt: Attempt.optional(),
      /**
       * Manual executions only: `true` makes this execution's ApplyRetention plan and report without
       * deregistering (`false`: deregister even where `RETENTION_DRY_RUN` is `true`). It stays at
       * `$.retentionDryRun` of the state document, where `ApplyRetentionInput` reads it.
       */
      retentionDryRun: z.boolean({ error: 'retentionDryRun must be true or false' }).optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys' ? undefined : 'the execution input must be a JSON object',
    },
  )
  // Also reported next to other problems (`when`), unless baseImage or parent has its own.
  .refine((input) => input.parent !== undefined || input.baseImage !== undefined, {
    path: ['baseImage'],
    message: `baseImage is required and must be one of: ${BASE_IMAGE_NAMES.join(', ')} (or name a parent pipeline in parent)`,
    when: (payload) =>
      !payload.issues.some((issue) => issue.path?.[0] === 'baseImage' || issue.path?.[0] === 'parent'),
  })
  .superRefine((input, context) => {
    if (input.parent === undefined) return;
    if (input.sourceImageId !== undefined)
      context.addIssue({
        code: 'custom',
        path: ['sourceImageId'],
        message:
          'sourceImageId and parent exclude each other: a layered build bakes from the image the parent channel names',
      });
    if (input.parent.pipeline === input.pipeline)
      context.addIssue({
        code: 'custom',
        path: ['parent', 'pipeline'],
        message: `pipeline ${input.pipeline} cannot be its own parent`,
      });
  });
export type ExecutionInput = z.infer<typeof ExecutionInput>;

/** `$$.Execution` from the context object (passed by the ASL as `execution.$`). */
export const ExecutionContext = z.looseObject({
  Id: z.string().min(1),
  Name: z.string().min(1).max(80),
  StartTime: z.iso.datetime({ offset: true }),
});
