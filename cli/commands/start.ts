/**
 * `factory start`: validate the execution input as PrepareBuild does, start the build and follow it
 * state by state.
 */
import type { Command } from 'commander';
import ora from 'ora';
import { resolveImageDefinition } from '#commons/core/image-definitions.js';
import { ExecutionInput } from '#commons/execution-input.js';
import { parseOrThrow } from '#commons/validation.js';
import type { ExecutionSummary, Spinner } from '../backend.js';
import { EXIT, UsageError } from '../errors.js';
import { formatDuration } from '../format.js';
import { LOCAL_BASE_IMAGE } from '../local-backend.js';
import type { CommandContext } from './context.js';
import { parentOption, secondsOption } from './options.js';

const DEFAULT_POLL_SECONDS = 5;

/**
 * The execution input of `start` from its options: `--input` (JSON, or `@file`) first, then each
 * flag over it. Not validated here: {@link validatedInput} does, with the pipeline's schema.
 * @throws UsageError when `--input` is not JSON, or `--parent` is malformed.
 */
export async function rawExecutionInput(options: Record<string, unknown>): Promise<Record<string, unknown>> {
  let raw: Record<string, unknown> = {};
  if (typeof options.input === 'string') {
    const text = options.input.startsWith('@')
      ? await import('node:fs/promises').then((fs) => fs.readFile(String(options.input).slice(1), 'utf8'))
      : options.input;
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(
        `--input is not JSON: ${(error as Error).message}`,
        'give the execution input as a JSON object, or @file',
      );
    }
  }
  const flags: Array<[string, string]> = [
    ['pipeline', 'pipeline'],
    ['baseImage', 'baseImage'],
    ['channel', 'channel'],
    ['architecture', 'architecture'],
    ['imageDefinition', 'imageDefinition'],
    ['sourceImage', 'sourceImageId'],
    ['commit', 'commit'],
    ['repository', 'repository'],
  ];
  for (const [option, key] of flags) if (typeof options[option] === 'string') raw[key] = options[option];
  if (typeof options.parent === 'string') raw.parent = parentOption(options.parent);
  if (typeof options.attempt === 'string')
    raw.attempt = /^\d+$/.test(options.attempt) ? Number(options.attempt) : options.attempt;
  if (options.retentionDryRun === true) raw.retentionDryRun = true;
  return raw;
}

/**
 * Validate like PrepareBuild, before anything is sent: the execution input schema (`ExecutionInput`,
 * unknown keys refused) and the image definition the pipeline would bake.
 * @throws InvalidInput, UnknownImageDefinition (exit status 2).
 */
export function validatedInput(raw: Record<string, unknown>): ExecutionInput {
  const input = parseOrThrow(ExecutionInput, raw, 'execution input');
  resolveImageDefinition(input.pipeline, input.imageDefinition);
  return input;
}

/** The one-line outcome of an execution: `SUCCEEDED in 14m 03s`, `FAILED in 2m 10s at BakeImage: …`. */
export function outcomeLine(summary: ExecutionSummary): string {
  const took = summary.seconds === undefined ? '' : ` in ${formatDuration(summary.seconds)}`;
  const where = summary.failingState ? ` at ${summary.failingState}` : '';
  const error = summary.error
    ? `: ${summary.error}${summary.cause ? ` — ${summary.cause.slice(0, 500)}` : ''}`
    : '';
  return `${summary.status}${took}${where}${error}\n`;
}

/** A spinner on stderr showing the running state (terminal only). */
const terminalSpinner = (): Spinner => {
  const spinner = ora({ stream: process.stderr, text: 'starting' }).start();
  return {
    update: (text) => {
      spinner.text = text;
    },
    around: (write) => {
      spinner.clear();
      write();
      spinner.render();
    },
    stop: () => {
      spinner.stop();
    },
  };
};

/** Add `start` to `root`. */
export function registerStart(root: Command, context: CommandContext): void {
  const { io } = context;
  root
    .command('start')
    .description('start a build: validate the input as PrepareBuild does, start it, follow it state by state')
    .option('--pipeline <name>', 'pipeline (required)')
    .option(
      '--base-image <name>',
      'base image: ubuntu-24.04, ubuntu-22.04, al2023, debian-12 (local default: debian-12)',
    )
    .option('--channel <name>', 'channel to promote to (default stable)')
    .option(
      '--image-definition <name>',
      'image definition to bake (default: the one named like the pipeline)',
    )
    .option(
      '--parent <pipeline[/channel]>',
      'layered build: bake from the image that pipeline’s channel (default stable) names, instead of a base image',
    )
    .option(
      '--architecture <arch>',
      'x86_64 (default) or arm64: one the pipeline declares (stage parameter architectures)',
    )
    .option('--source-image <ami>', 'source AMI (default: the base image’s current public AMI)')
    .option('--commit <sha>', 'git commit to bake')
    .option('--repository <url>', 'repository to bake from')
    .option('--attempt <n>', 'attempt number, to rebuild a failed build (1-99)')
    .option('--retention-dry-run', 'retention plans and reports only, for this execution')
    .option('--input <json>', 'the whole execution input as JSON, or @file (flags override its keys)')
    .option('--no-follow', 'return once started')
    .option(
      '--poll-seconds <s>',
      'seconds between history reads while following',
      String(DEFAULT_POLL_SECONDS),
    )
    .action(async (options: Record<string, unknown>, command: Command) => {
      const global = context.globals(command);
      const raw = await rawExecutionInput(options);
      if (global.local && raw.parent === undefined) raw.baseImage ??= LOCAL_BASE_IMAGE;
      const input = validatedInput(raw);
      const pollMs = secondsOption('--poll-seconds', String(options.pollSeconds)) * 1000;
      const backend = await context.one(global);
      const progress = global.json ? io.stderr : io.stdout;
      const spinner = io.interactive && options.follow !== false ? terminalSpinner() : undefined;
      const summary = await backend.start(input, {
        follow: options.follow !== false,
        pollMs,
        write: progress,
        signal: io.signal,
        spinner,
      });
      if (options.follow === false) {
        context.print(global, summary, `started; follow it with: factory status ${summary.name}\n`);
        return;
      }
      if (io.signal.aborted && summary.status === 'RUNNING') {
        io.stderr(`stopped following; the execution goes on: factory status ${summary.name}\n`);
        context.exit(EXIT.interrupted);
        return;
      }
      context.print(global, summary, outcomeLine(summary));
      context.exit(
        summary.status === 'SUCCEEDED' ? EXIT.ok : io.signal.aborted ? EXIT.interrupted : EXIT.failed,
      );
    });
}
