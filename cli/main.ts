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
 *
 * This module holds the global options, the backends and the error handling; each command group
 * is in `commands/`: `start`, `status` and `list` (executions), `images`, `promote` and `rollback`
 * (channels), `retention plan` and `sweep` (cleanup), `diff`.
 */
import { Command } from 'commander';
import { AwsBackend } from './aws-backend.js';
import type { Backend } from './backend.js';
import { registerChannels } from './commands/channels.js';
import { registerCleanup } from './commands/cleanup.js';
import type { CliIo, CommandContext, GlobalOptions } from './commands/context.js';
import { registerDiff } from './commands/diff.js';
import { registerExecutions } from './commands/executions.js';
import { registerImages } from './commands/images.js';
import { registerStart } from './commands/start.js';
import { EXIT, explain, UsageError } from './errors.js';
import { renderJson } from './format.js';
import { LocalBackend } from './local-backend.js';

const DEFAULT_STAGE = 'dev';

/** What a run of the CLI leaves behind: its exit status and the backends to close. */
interface RunState {
  code: number;
  backends: Backend[];
}

/** The backends of a command (see {@link CommandContext.open}); each is recorded in `state` to be closed. */
const openBackends = async (
  io: CliIo,
  state: RunState,
  options: GlobalOptions,
  multiRegion = false,
): Promise<Backend[]> => {
  if (options.local) {
    if (options.region || options.stack) throw new UsageError('--region and --stack do not apply to --local');
    const backend = new LocalBackend(options.stateDir ?? '.factory', io.localRunner);
    state.backends.push(backend);
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
    state.backends.push(backend);
    backends.push(backend);
  }
  return backends;
};

/** Build the program; the action that runs sets `state.code`. */
const program = (io: CliIo, state: RunState): Command => {
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

  const context: CommandContext = {
    io,
    now: () => (io.now ?? (() => new Date()))(),
    globals: (command) => command.optsWithGlobals() as GlobalOptions,
    print: (options, json, text) => io.stdout(options.json ? renderJson(json) : text),
    open: (options, multiRegion) => openBackends(io, state, options, multiRegion),
    one: async (options) => (await openBackends(io, state, options))[0] as Backend,
    exit: (code) => {
      state.code = code;
    },
  };
  registerStart(root, context);
  registerExecutions(root, context);
  registerImages(root, context);
  registerChannels(root, context);
  registerCleanup(root, context);
  registerDiff(root, context);
  return root;
};

/**
 * Run the CLI on `argv` (without `node` and the script).
 * @returns the exit status; never throws.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const state: RunState = { code: EXIT.ok, backends: [] };
  const json = argv.includes('--json');
  try {
    await program(io, state).parseAsync([...argv], { from: 'user' });
    return state.code;
  } catch (error) {
    if ((error as { exitCode?: number }).exitCode === 0 && (error as Error).name === 'CommanderError')
      return EXIT.ok;
    const explained = explain(error, state.backends.at(-1)?.where);
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
    for (const backend of state.backends) backend.close();
  }
}
