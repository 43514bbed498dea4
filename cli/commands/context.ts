/**
 * What every command group (`cli/commands/*.ts`) gets from `main.ts`: the process around the CLI,
 * the global options, output in text or JSON, the backends, and the exit status.
 */
import type { Command } from 'commander';
import type { Backend } from '../backend.js';
import type { LocalRunner } from '../local-backend.js';

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

/** The options of the `factory` command itself, which every command inherits. */
export interface GlobalOptions {
  json?: boolean;
  local?: boolean;
  stateDir?: string;
  stage: string;
  region?: string;
  stack?: string;
}

export interface CommandContext {
  readonly io: CliIo;
  now(): Date;
  /** The global options as seen from `command`. */
  globals(command: Command): GlobalOptions;
  /** Print `json` (with `--json`) or `text` on stdout. */
  print(options: GlobalOptions, json: unknown, text: string): void;
  /**
   * The backends of the command: one per region of `--region` with `multiRegion` (`images`), else
   * exactly one. Each is closed when the CLI returns.
   * @throws UsageError for options that do not go together, or no region.
   */
  open(options: GlobalOptions, multiRegion?: boolean): Promise<Backend[]>;
  /** The one backend of the command (see {@link CommandContext.open}). */
  one(options: GlobalOptions): Promise<Backend>;
  /** Set the exit status (0 unless an action sets another). */
  exit(code: number): void;
}
