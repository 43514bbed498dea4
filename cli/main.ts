/**
 * `factory`: the operator CLI (`npx factory <command>`, entry `cli/bin.mjs`).
 *
 * Every command works against the deployed stack of `--stage` in `--region` (found by its
 * CloudFormation outputs, `aws-backend.ts`) or, with `--local`, against the local backend's
 * catalog (`local-backend.ts`). Promotion, rollback, retention and the sweeper's plan run the
 * pipeline's own steps (`functions/commons/steps/`) under the same promotion lease. Every command
 * takes `--json`. Errors are explained in two lines (what is wrong, what to do), never a stack
 * trace (`errors.ts`); exit statuses: 0 success, 1 failure, 2 bad arguments or input, 130
 * interrupted.
 */
import { Command } from 'commander';
import ora from 'ora';
import { resolveImageDefinition } from '#commons/core/image-definitions.js';
import { TAG } from '#commons/core/tags.js';
import { ExecutionInput } from '#commons/execution-input.js';
import { RollbackChannelInput } from '#commons/handler-inputs.js';
import { ChannelName, ImageId } from '#commons/schemas.js';
import { applyRetention } from '#commons/steps/apply-retention.js';
import { rollbackChannel } from '#commons/steps/rollback-channel.js';
import { parseOrThrow } from '#commons/validation.js';
import { AwsBackend } from './aws-backend.js';
import type { Backend, ExecutionSummary, Spinner } from './backend.js';
import { type ChannelImage, channelImages } from './channels.js';
import { EXIT, explain, UsageError } from './errors.js';
import { formatAge, formatDuration, renderJson, renderTable, shortCommit } from './format.js';
import { LOCAL_BASE_IMAGE, LocalBackend, type LocalRunner } from './local-backend.js';
import { promoteToChannel } from './promote.js';

/** Where the CLI reads and writes; tests give their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** True when stderr is a terminal (a spinner shows the running state). */
  interactive: boolean;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** The local pipeline (tests inject one that does not bake). */
  localRunner?: LocalRunner;
  now?: () => Date;
}

interface GlobalOptions {
  json?: boolean;
  local?: boolean;
  stateDir?: string;
  stage: string;
  region?: string;
  stack?: string;
}

const DEFAULT_STAGE = 'dev';
const DEFAULT_POLL_SECONDS = 5;
const DEFAULT_LIST_LIMIT = 20;

/** A whole number ≥ `min` given on the command line. @throws UsageError naming the option. */
export const wholeOption = (name: string, value: string, min = 0): number => {
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new UsageError(`${name} must be a whole number ≥ ${min}, got "${value}"`);
  }
  return Number(value);
};

/** A number of seconds > 0 given on the command line. @throws UsageError naming the option. */
const secondsOption = (name: string, value: string): number => {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`${name} must be a number of seconds > 0, got "${value}"`);
  return seconds;
};

/**
 * `--parent <pipeline>[/<channel>]` as the execution input's `parent` (`{ pipeline, channel? }`),
 * validated afterwards with the rest of the input (channel default `stable`).
 * @throws UsageError for more than one `/`.
 */
export const parentOption = (value: string): { pipeline: string; channel?: string } => {
  const [pipeline = '', channel, ...rest] = value.split('/');
  if (rest.length > 0)
    throw new UsageError(
      `--parent must be <pipeline>[/<channel>], got "${value}"`,
      'name the parent pipeline and, optionally, its channel: --parent base/stable',
    );
  return channel === undefined ? { pipeline } : { pipeline, channel };
};

/**
 * The execution input of `start` from its options: `--input` (JSON, or `@file`) first, then each
 * flag over it. Not validated here: {@link validatedInput} does, with the pipeline's schema.
 */
export const rawExecutionInput = async (
  options: Record<string, unknown>,
): Promise<Record<string, unknown>> => {
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
};

/**
 * Validate like PrepareBuild, before anything is sent: the execution input schema (`ExecutionInput`,
 * unknown keys refused) and the image definition the pipeline would bake.
 * @throws InvalidInput, UnknownImageDefinition (exit status 2).
 */
export const validatedInput = (raw: Record<string, unknown>): ExecutionInput => {
  const input = parseOrThrow(ExecutionInput, raw, 'execution input');
  resolveImageDefinition(input.pipeline, input.imageDefinition);
  return input;
};

/** The one-line outcome of an execution: `SUCCEEDED in 14m 03s`, `FAILED in 2m 10s at BakeImage: …`. */
export const outcomeLine = (summary: ExecutionSummary): string => {
  const took = summary.seconds === undefined ? '' : ` in ${formatDuration(summary.seconds)}`;
  const where = summary.failingState ? ` at ${summary.failingState}` : '';
  const error = summary.error
    ? `: ${summary.error}${summary.cause ? ` — ${summary.cause.slice(0, 500)}` : ''}`
    : '';
  return `${summary.status}${took}${where}${error}\n`;
};

const statusText = (summary: ExecutionSummary): string => {
  const lines = [
    ['execution', summary.name],
    ['status', summary.status],
    ['pipeline', summary.pipeline && `${summary.pipeline} / ${summary.channel ?? '-'}`],
    ['started', summary.startedAt],
    ['duration', summary.seconds === undefined ? undefined : formatDuration(summary.seconds)],
    ['failing state', summary.failingState],
    ['error', summary.error],
    ['cause', summary.cause?.slice(0, 1000)],
    ['console', summary.link],
  ]
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([label, value]) => `${String(label).padEnd(14)}${value}\n`)
    .join('');
  const states = summary.states ?? [];
  return states.length === 0
    ? lines
    : `${lines}\n${renderTable(
        ['STATE', 'TIME', 'ENTRIES'],
        states.map((s) => [s.state, formatDuration(s.seconds), String(s.entries)]),
      )}`;
};

const listText = (summaries: readonly ExecutionSummary[], now: Date): string => {
  if (summaries.length === 0) return 'no executions\n';
  const sorted = [...summaries].sort(
    (a, b) =>
      (a.pipeline ?? '').localeCompare(b.pipeline ?? '') ||
      (b.startedAt ?? '').localeCompare(a.startedAt ?? ''),
  );
  return renderTable(
    ['PIPELINE', 'CHANNEL', 'EXECUTION', 'STATUS', 'STARTED', 'DURATION', 'FAILING STATE', 'ERROR'],
    sorted.map((s) => [
      s.pipeline,
      s.channel,
      s.name,
      s.status,
      s.startedAt ? `${formatAge(s.startedAt, now)} ago` : undefined,
      s.seconds === undefined ? undefined : formatDuration(s.seconds),
      s.failingState,
      s.error,
    ]),
  );
};

const imagesText = (rows: readonly ChannelImage[], empty: readonly string[], now: Date): string => {
  const table = renderTable(
    ['PIPELINE', 'CHANNEL', 'REGION', 'ARCH', 'POSITION', 'IMAGE', 'AGE', 'BUILD ID', 'COMMIT', 'SOURCE AMI'],
    rows.map((row) => [
      row.pipeline,
      row.channel,
      row.region,
      row.architecture,
      row.position,
      row.found ? row.imageId : `${row.imageId} (gone)`,
      formatAge(row.createdAt, now),
      row.buildId,
      shortCommit(row.commit),
      row.sourceImageId,
    ]),
  );
  const none = empty.map((where) => `${where}: no channel promoted yet\n`).join('');
  return rows.length === 0 ? none || 'no pipelines\n' : `${table}${none}`;
};

/** Build the program; `result.code` is set by the action that ran. */
const program = (io: CliIo, result: { code: number; backends: Backend[] }): Command => {
  const now = (): Date => (io.now ?? (() => new Date()))();
  const root = new Command('factory')
    .description(
      'Operate the golden image factory: start and follow builds, see what each channel serves, promote, roll back, plan retention and the sweep.',
    )
    .option('--json', 'print JSON for scripts instead of text')
    .option('--local', 'use the local backend (qemu, the catalog of --state-dir) instead of AWS')
    .option('--state-dir <dir>', 'state directory of the local backend (default .factory)')
    .option('--stage <stage>', 'stage of the deployed stack', DEFAULT_STAGE)
    .option(
      '--region <region>',
      'AWS region of the stack (default AWS_REGION); images takes a comma-separated list',
    )
    .option('--stack <name>', 'CloudFormation stack name (default golden-image-factory-<stage>)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showHelpAfterError(false)
    .helpCommand(false);

  const globals = (command: Command): GlobalOptions => command.optsWithGlobals() as GlobalOptions;
  const print = (options: GlobalOptions, json: unknown, text: string): void =>
    io.stdout(options.json ? renderJson(json) : text);

  /** The backends of the command: one per region (`images`), else exactly one. */
  const open = async (options: GlobalOptions, multiRegion = false): Promise<Backend[]> => {
    if (options.local) {
      if (options.region || options.stack)
        throw new UsageError('--region and --stack do not apply to --local');
      const backend = new LocalBackend(options.stateDir ?? '.factory', io.localRunner);
      result.backends.push(backend);
      return [backend];
    }
    if (options.stateDir) throw new UsageError('--state-dir applies to --local only');
    const regions = (options.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? '')
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '');
    if (regions.length === 0) {
      throw new UsageError('no AWS region', 'pass --region, set AWS_REGION, or use --local');
    }
    if (regions.length > 1 && !multiRegion) throw new UsageError('this command takes one --region');
    const backends: Backend[] = [];
    for (const region of regions) {
      const backend = await AwsBackend.connect({
        stage: options.stage,
        region,
        stackName: options.stack,
        warn: io.stderr,
      });
      result.backends.push(backend);
      backends.push(backend);
    }
    return backends;
  };
  const one = async (options: GlobalOptions): Promise<Backend> => (await open(options))[0] as Backend;

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
      const global = globals(command);
      const raw = await rawExecutionInput(options);
      if (global.local && raw.parent === undefined) raw.baseImage ??= LOCAL_BASE_IMAGE;
      const input = validatedInput(raw);
      const pollMs = secondsOption('--poll-seconds', String(options.pollSeconds)) * 1000;
      const backend = await one(global);
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
        print(global, summary, `started; follow it with: factory status ${summary.name}\n`);
        result.code = EXIT.ok;
        return;
      }
      if (io.signal.aborted && summary.status === 'RUNNING') {
        io.stderr(`stopped following; the execution goes on: factory status ${summary.name}\n`);
        result.code = EXIT.interrupted;
        return;
      }
      print(global, summary, outcomeLine(summary));
      result.code =
        summary.status === 'SUCCEEDED' ? EXIT.ok : io.signal.aborted ? EXIT.interrupted : EXIT.failed;
    });

  root
    .command('status')
    .description('one execution: status, time per state, failing state and error (default: the newest)')
    .argument('[execution]', 'execution name or ARN')
    .action(async (reference: string | undefined, _options: unknown, command: Command) => {
      const global = globals(command);
      const summary = await (await one(global)).execution(reference);
      print(global, summary, statusText(summary));
    });

  root
    .command('list')
    .description('recent executions per pipeline: outcome, duration, failing state')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--limit <n>', 'most executions shown', String(DEFAULT_LIST_LIMIT))
    .action(async (options: { pipeline?: string; limit: string }, command: Command) => {
      const global = globals(command);
      const limit = wholeOption('--limit', options.limit, 1);
      const summaries = await (await one(global)).executions({ limit, pipeline: options.pipeline });
      print(global, summaries, listText(summaries, now()));
    });

  root
    .command('images')
    .description('per pipeline, channel, architecture and region: the current and previous image')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--channel <name>', 'only this channel')
    .action(async (options: { pipeline?: string; channel?: string }, command: Command) => {
      const global = globals(command);
      const rows: ChannelImage[] = [];
      const empty: string[] = [];
      for (const backend of await open(global, true)) {
        const { images, pointer } = backend.ports();
        const pipelines = options.pipeline ? [options.pipeline] : await backend.pipelines();
        for (const pipeline of pipelines) {
          const all = await images.findImages({ [TAG.pipeline]: pipeline });
          const channels = (await pointer.channels(pipeline))
            .filter((channel) => options.channel === undefined || channel === options.channel)
            .sort();
          if (channels.length === 0) empty.push(`${pipeline} (${backend.region})`);
          for (const channel of channels) {
            const history = await pointer.history(pipeline, channel);
            try {
              rows.push(
                ...channelImages({ pipeline, channel, region: backend.region, history, images: all }),
              );
            } catch (error) {
              if (!(error instanceof RangeError)) throw error;
              io.stderr(`warning: ${pipeline}/${channel} skipped: ${error.message}\n`);
            }
          }
        }
      }
      print(global, { images: rows, withoutChannels: empty }, imagesText(rows, empty, now()));
    });

  root
    .command('promote')
    .description('point a channel at an image of its pipeline (newer builds only; under the promotion lease)')
    .argument('<image>', 'image id')
    .requiredOption('--channel <name>', 'channel')
    .option('--pipeline <name>', 'the pipeline the image must belong to')
    .action(async (imageId: string, options: { channel: string; pipeline?: string }, command: Command) => {
      const global = globals(command);
      parseOrThrow(ImageId, imageId, 'image');
      parseOrThrow(ChannelName, options.channel, '--channel');
      const backend = await one(global);
      const promotion = await promoteToChannel(
        { imageId, channel: options.channel, pipeline: options.pipeline },
        backend.ports(),
        { holder: backend.holder },
      );
      print(
        global,
        promotion,
        `${promotion.reason === 'already current' ? 'already current' : 'promoted'}: ${promotion.pipeline}/${promotion.channel} → ${promotion.imageId} (previous ${promotion.previousImageId ?? 'none'}; ${promotion.parameterName} v${promotion.parameterVersion})\n`,
      );
    });

  root
    .command('rollback')
    .description('point a channel back at its previous image, or at --image (under the promotion lease)')
    .requiredOption('--pipeline <name>', 'pipeline')
    .requiredOption('--channel <name>', 'channel')
    .option('--image <id>', 'roll back to this image (default: the previous one)')
    .action(async (options: { pipeline: string; channel: string; image?: string }, command: Command) => {
      const global = globals(command);
      const input = parseOrThrow(
        RollbackChannelInput,
        {
          pipeline: options.pipeline,
          channel: options.channel,
          ...(options.image ? { imageId: options.image } : {}),
        },
        'rollback',
      );
      const backend = await one(global);
      const rolledBack = await rollbackChannel(input, backend.ports(), { holder: backend.holder });
      print(
        global,
        rolledBack,
        `rolled back: ${rolledBack.pipeline}/${rolledBack.channel} → ${rolledBack.imageId} (withdrawn ${rolledBack.withdrawnImageId ?? 'none'}; ${rolledBack.parameterName} v${rolledBack.parameterVersion})\n`,
      );
    });

  root
    .command('retention')
    .description('retention of promoted images')
    .command('plan')
    .description('dry run: what retention would deregister and keep, and why (changes nothing)')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--max-age-days <n>', "age limit (default: the stage's)")
    .option('--keep-latest <n>', "newest images always kept (default: the stage's)")
    .action(
      async (options: { pipeline?: string; maxAgeDays?: string; keepLatest?: string }, command: Command) => {
        const global = globals(command);
        const backend = await one(global);
        const settings = await backend.retentionSettings();
        const maxAgeDays = options.maxAgeDays
          ? wholeOption('--max-age-days', options.maxAgeDays)
          : settings.maxAgeDays;
        const keepLatest = options.keepLatest
          ? wholeOption('--keep-latest', options.keepLatest)
          : settings.keepLatest;
        const ports = backend.ports();
        const plans = [];
        const rows: string[][] = [];
        for (const pipeline of options.pipeline ? [options.pipeline] : await backend.pipelines()) {
          const images = new Map(
            (await ports.images.findImages({ [TAG.pipeline]: pipeline })).map((image) => [
              image.imageId,
              image,
            ]),
          );
          const plan = await applyRetention(
            { build: { pipeline, channel: settings.defaultChannel }, retentionDryRun: true },
            ports,
            {
              maxAgeDays,
              keepLatest,
              recentLaunchDays: settings.recentLaunchDays,
              stage: backend.stage,
              dryRun: true,
            },
          );
          plans.push({ pipeline, ...plan });
          for (const outcome of plan.outcomes) {
            const image = images.get(outcome.imageId);
            rows.push([
              pipeline,
              outcome.imageId,
              formatAge(image?.createdAt, now()),
              image?.tags[TAG.channel] ?? '',
              outcome.outcome === 'planned'
                ? 'deregister'
                : outcome.outcome === 'kept'
                  ? 'keep'
                  : outcome.outcome,
              outcome.error ? `${outcome.reason}: ${outcome.error}` : outcome.reason,
            ]);
          }
        }
        const header = `retention plan (dry run, nothing changed) on ${backend.where}: deregister older than ${maxAgeDays} days; keep the newest ${keepLatest}, current and previous images, protected, in use, shared and launched within ${settings.recentLaunchDays} days\n`;
        const omitted = plans.reduce((sum, plan) => sum + (plan.omitted ?? 0), 0);
        print(
          global,
          { settings: { maxAgeDays, keepLatest, recentLaunchDays: settings.recentLaunchDays }, plans },
          `${header}${rows.length ? renderTable(['PIPELINE', 'IMAGE', 'AGE', 'CHANNEL TAG', 'DECISION', 'REASON'], rows) : 'no images\n'}${omitted ? `${omitted} more not listed\n` : ''}`,
        );
      },
    );

  root
    .command('sweep')
    .description("the sweeper's plan: what builds left behind and would be removed (AWS only)")
    .option('--dry-run', 'report only (required: the CLI never removes; the sweeper Lambda does)')
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const global = globals(command);
      if (!options.dryRun) {
        throw new UsageError(
          'sweep needs --dry-run: the CLI only shows the plan',
          'the sweeper Lambda removes leftovers on its schedule and after every failed execution; README "Sweeper" shows how to invoke it now',
        );
      }
      const backend = await one(global);
      const report = await backend.sweepPlan();
      const rows = report.outcomes.map((o) => [
        o.kind,
        o.id,
        o.name,
        o.pipeline,
        o.buildId,
        o.execution,
        o.outcome === 'planned' ? 'remove' : o.outcome === 'kept' ? 'keep' : o.outcome,
        o.reason,
      ]);
      print(
        global,
        report,
        `sweep plan (dry run, nothing removed) on ${backend.where}\n${rows.length ? renderTable(['KIND', 'RESOURCE', 'NAME', 'PIPELINE', 'BUILD ID', 'EXECUTION', 'DECISION', 'REASON'], rows) : 'nothing left behind\n'}`,
      );
    });

  root
    .command('diff')
    .description('package changes between two images (not yet available)')
    .argument('<imageA>')
    .argument('<imageB>')
    .action(() => {
      throw new UsageError(
        'factory diff is not available yet',
        'it needs the per-image SBOMs of issue 11 point 2 (SBOM and package diff), which the factory does not produce yet',
      );
    });

  return root;
};

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

/**
 * Run the CLI on `argv` (without `node` and the script).
 * @returns the exit status; never throws.
 */
export const runCli = async (argv: readonly string[], io: CliIo): Promise<number> => {
  const result: { code: number; backends: Backend[] } = { code: EXIT.ok, backends: [] };
  const json = argv.includes('--json');
  try {
    await program(io, result).parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (error) {
    if ((error as { exitCode?: number }).exitCode === 0 && (error as Error).name === 'CommanderError')
      return EXIT.ok;
    const explained = explain(error, result.backends.at(-1)?.where);
    if (json) {
      io.stderr(
        renderJson({ error: { name: explained.name, message: explained.message, hint: explained.hint } }),
      );
    } else {
      io.stderr(`factory: ${explained.message}\n${explained.hint ? `  → ${explained.hint}\n` : ''}`);
    }
    if (io.env.FACTORY_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return explained.exitCode;
  } finally {
    for (const backend of result.backends) backend.close();
  }
};
