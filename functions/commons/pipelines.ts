/**
 * The `PIPELINES` setting: which pipelines a stage runs, what each bakes, from which source, and
 * which channel it promotes to. Parsed here (pure: no environment access); `config.ts` reads the
 * variable, the CLI and the local image-definition tool parse a function's or a file's copy.
 */
import * as z from 'zod';
import { type Architecture, type ArchitectureSettings, architecturesOf } from './core/architectures.js';
import type { ParentRef } from './core/layering.js';
import { MissingConfiguration } from './errors.js';
import { BaseImageNameSchema, ChannelName, ImageDefinitionNameSchema, PipelineName } from './schemas.js';
import { formatIssues } from './validation.js';

/** What every configured pipeline has: what it bakes and which channel it promotes to. */
interface PipelineEntry {
  pipeline: string;
  imageDefinition: string;
  channel: string;
  /**
   * The architectures it builds, in `ARCHITECTURES` order (`ARCHITECTURES` setting,
   * {@link withArchitectures}); absent: x86_64 only.
   */
  architectures?: readonly Architecture[];
}

/**
 * A configured pipeline: what it bakes, from which source, and which channel it promotes to. The
 * source is a base image, or (layered pipeline) the image a parent pipeline's channel names: the
 * base image is then the parent's (`core/layering.ts`).
 */
export type PipelineConfig = PipelineEntry &
  ({ baseImage: string; parent?: undefined } | { parent: ParentRef; baseImage?: undefined });

/** The `PIPELINES` entry syntax, as error messages state it. */
export const PIPELINE_SYNTAX = `pipeline=[imageDefinition@]{baseImage|pipeline:<parent>[/<parentChannel>]}[:channel]`;

const PIPELINE_ENTRY =
  /^(?<pipeline>[^=@:\s]+)=(?:(?<imageDefinition>[^=@:\s]+)@)?(?:pipeline:(?<parent>[^=@:/\s]+)(?:\/(?<parentChannel>[^=@:/\s]+))?|(?<baseImage>[^=@:/\s]+))(?::(?<channel>[^=@:/\s]+))?$/;

/** One `PIPELINES` entry ({@link PIPELINE_SYNTAX}) as zod reads it. */
const pipelineEntry = (defaultChannel: string) =>
  z
    .string()
    .regex(PIPELINE_ENTRY, { error: `expected ${PIPELINE_SYNTAX}` })
    .transform(
      (
        entry,
      ): Partial<PipelineEntry> &
        Partial<Record<'baseImage', string>> & {
          parent?: ParentRef;
        } => {
        const groups = PIPELINE_ENTRY.exec(entry)?.groups ?? {};
        const parent =
          groups.parent === undefined
            ? undefined
            : { pipeline: groups.parent, channel: groups.parentChannel ?? defaultChannel };
        return {
          pipeline: groups.pipeline,
          imageDefinition: groups.imageDefinition ?? groups.pipeline,
          ...(parent ? { parent } : { baseImage: groups.baseImage }),
          channel: groups.channel ?? defaultChannel,
        };
      },
    )
    .pipe(
      z.strictObject({
        pipeline: PipelineName,
        imageDefinition: ImageDefinitionNameSchema,
        // The transform above sets exactly one of the two.
        baseImage: BaseImageNameSchema.optional(),
        parent: z.strictObject({ pipeline: PipelineName, channel: ChannelName }).optional(),
        channel: ChannelName,
      }),
    )
    .transform(
      ({ baseImage, parent, ...entry }): PipelineConfig =>
        parent ? { ...entry, parent } : { ...entry, baseImage: baseImage ?? '' },
    );

/**
 * Why the layered pipelines of `pipelines` cannot work, or undefined: every parent must be another
 * configured pipeline, and following parents must end at a pipeline that bakes from a base image.
 */
const layeringProblem = (pipelines: readonly PipelineConfig[]): string | undefined => {
  const byName = new Map(pipelines.map((entry) => [entry.pipeline, entry]));
  for (const entry of pipelines) {
    if (entry.parent === undefined) continue;
    if (entry.parent.pipeline === entry.pipeline)
      return `pipeline ${entry.pipeline} names itself as its parent`;
    if (!byName.has(entry.parent.pipeline))
      return `pipeline ${entry.pipeline} names parent ${entry.parent.pipeline}, which is not one of the configured pipelines (${[...byName.keys()].join(', ')})`;
    const seen = [entry.pipeline];
    for (let parent = byName.get(entry.parent.pipeline); parent?.parent !== undefined; ) {
      if (seen.includes(parent.pipeline))
        return `pipelines ${[...seen, parent.pipeline].join(' → ')} form a cycle of parents`;
      seen.push(parent.pipeline);
      parent = byName.get(parent.parent.pipeline);
    }
  }
  return undefined;
};

/**
 * Parse `PIPELINES`: comma-separated
 * `pipeline=[imageDefinition@]{baseImage|pipeline:<parent>[/<parentChannel>]}[:channel]`, e.g.
 * `base=base@ubuntu-24.04,web=web@pipeline:base/stable,ci=base@al2023:beta`. The image definition
 * defaults to the pipeline's name, both channels to `DEFAULT_CHANNEL`. A `pipeline:` source makes a
 * layered pipeline: it bakes from the image the parent pipeline's channel names.
 * @throws MissingConfiguration naming the bad entry and what is expected (the known image
 *   definitions and base images), or the parent that is not configured, names itself or closes a
 *   cycle.
 */
export const parsePipelines = (value: string, defaultChannel: string): PipelineConfig[] => {
  const pipelines = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const parsed = pipelineEntry(defaultChannel).safeParse(entry);
      if (!parsed.success) {
        throw new MissingConfiguration(
          `environment variable PIPELINES has an invalid entry "${entry}": ${formatIssues(parsed.error.issues)}`,
        );
      }
      return parsed.data;
    });
  const problem = layeringProblem(pipelines);
  if (problem) throw new MissingConfiguration(`environment variable PIPELINES: ${problem}`);
  return pipelines;
};

/**
 * `pipelines` with the architectures each declares in `settings` (`ARCHITECTURES`,
 * `core/architectures.ts`).
 * @throws MissingConfiguration when `settings` names a pipeline that is not configured, or a
 *   layered pipeline declares an architecture its parent does not build (its parent channel of
 *   that architecture would never name an image).
 */
export const withArchitectures = (
  pipelines: readonly PipelineConfig[],
  settings: ArchitectureSettings,
): PipelineConfig[] => {
  const names = pipelines.map((entry) => entry.pipeline);
  for (const pipeline of Object.keys(settings)) {
    if (!names.includes(pipeline))
      throw new MissingConfiguration(
        `environment variable ARCHITECTURES names pipeline ${pipeline}, which is not one of the configured pipelines (${names.join(', ')})`,
      );
  }
  for (const entry of pipelines) {
    if (entry.parent === undefined) continue;
    const parentBuilds = architecturesOf(settings, entry.parent.pipeline);
    const missing = architecturesOf(settings, entry.pipeline).filter((arch) => !parentBuilds.includes(arch));
    if (missing.length > 0)
      throw new MissingConfiguration(
        `environment variable ARCHITECTURES: layered pipeline ${entry.pipeline} builds ${missing.join(', ')}, which its parent ${entry.parent.pipeline} does not (${parentBuilds.join(', ')})`,
      );
  }
  return pipelines.map((entry) => ({ ...entry, architectures: architecturesOf(settings, entry.pipeline) }));
};
