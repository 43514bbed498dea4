/**
 * The local backend: the catalog of a state directory (`.factory` by default, as `npm run factory`)
 * with the local ports (`local/catalog.ts`, `local/promotion-ledger.ts`), and `start` running the
 * pipeline in this process (`local/factory.ts` `runLocalFactory`: bake, boot, probe, promote).
 *
 * Local executions run in the CLI's own process, so the CLI records each one it ran in
 * `<state dir>/executions/<start time>-<name>.json` (an {@link ExecutionSummary}); `list` and
 * `status` read those records.
 */

import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { failingState } from '#commons/core/execution-history.js';
import {
  DEFAULT_KEEP_LATEST,
  DEFAULT_MAX_AGE_DAYS,
  DEFAULT_RECENT_LAUNCH_DAYS,
} from '#commons/core/retention.js';
import { TAG } from '#commons/core/tags.js';
import type { ExecutionInput } from '#commons/execution-input.js';
import { inspectionSummary, LOCAL_COST_NOTE } from '#commons/report.js';
import type { SweepReport } from '#commons/steps/sweep-leftovers.js';
import { FileChannelPointer, LocalCatalog, LocalImageStore } from '#local/catalog.js';
import { FileEventLog } from '#local/event-log.js';
import type { LocalRunSummary } from '#local/factory.js';
import { QemuMachineLauncher } from '#local/machines.js';
import { PROJECT_ROOT } from '#local/process.js';
import { FilePromotionLedger } from '#local/promotion-ledger.js';
import { FileSbomStore } from '#local/sbom.js';
import { LocalBaseImageResolver } from '#local/sources.js';
import { renderSummary } from '#local/summary.js';
import type { Backend, CommandPorts, ExecutionSummary, RetentionSettings, StartOptions } from './backend.js';
import { OperatorError, UsageError } from './errors.js';
import { cliHolder } from './holder.js';

/** What `runLocalFactory` is; injected so tests never bake. */
export type LocalRunner = (options: {
  pipeline: string;
  channel: string;
  baseImage: string;
  /** Layered build: bake from the image this pipeline's channel names in the catalog. */
  parent?: { pipeline: string; channel: string };
  imageDefinition?: string;
  stateDir: string;
  retention: { maxAgeDays: number; keepLatest: number; dryRun: boolean };
  write: (text: string) => void;
  signal: AbortSignal;
}) => Promise<LocalRunSummary>;

/** The one base image available locally (`npm run factory`'s default). */
export const LOCAL_BASE_IMAGE = 'debian-12';

const isNotFound = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT';

/** Inputs `runLocalFactory` does not take (the local run bakes the working tree from the local base image). */
const AWS_ONLY_INPUTS = ['sourceImageId', 'commit', 'repository', 'attempt'] as const;

/** The record of a local run (`list`/`status`). */
export const localExecutionSummary = (
  summary: LocalRunSummary,
  input: { pipeline: string; channel: string },
  stoppedAt: Date,
): ExecutionSummary => {
  const failing = failingState(summary.statesVisited, summary.status);
  return {
    name: summary.executionName,
    status: summary.status,
    pipeline: input.pipeline,
    channel: input.channel,
    startedAt: new Date(stoppedAt.getTime() - summary.executionSeconds * 1000).toISOString(),
    stoppedAt: stoppedAt.toISOString(),
    seconds: summary.executionSeconds,
    ...(failing ? { failingState: failing } : {}),
    ...(summary.error ? { error: summary.error.Error, cause: summary.error.Cause } : {}),
    ...inspectionSummary(summary.output),
    states: summary.timings.map((timing) => ({
      state: timing.state,
      seconds: timing.seconds,
      entries: timing.entries,
    })),
    costNote: LOCAL_COST_NOTE,
  };
};

export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  readonly region = 'local';
  readonly stage = undefined;
  readonly where: string;
  readonly holder = cliHolder();
  readonly stateDir: string;
  readonly catalog: LocalCatalog;
  #ports: CommandPorts | undefined;

  /**
   * @param stateDir relative to the project root (as `npm run factory --state-dir`) or absolute.
   * @param runner the local pipeline (default: `runLocalFactory`, loaded when `start` runs).
   */
  constructor(
    stateDir: string,
    private readonly runner?: LocalRunner,
  ) {
    this.stateDir = path.resolve(PROJECT_ROOT, stateDir);
    this.catalog = new LocalCatalog(path.join(this.stateDir, 'catalog'));
    this.where = `local catalog ${this.catalog.root}`;
  }

  close(): void {}

  ports(): CommandPorts {
    this.#ports ??= (() => {
      // Only its record of running test machines is read (images in use); nothing is launched.
      const machines = new QemuMachineLauncher(this.catalog, {
        workDir: path.join(this.stateDir, 'vm'),
        sshPublicKey: '',
      });
      return {
        images: new LocalImageStore(this.catalog, (ids) => machines.imagesInUse(ids)),
        pointer: new FileChannelPointer(this.catalog),
        ledger: new FilePromotionLedger(this.catalog.root),
        sources: new LocalBaseImageResolver(),
        events: new FileEventLog(this.catalog.root),
        sboms: new FileSbomStore(this.catalog.root),
      };
    })();
    return this.#ports;
  }

  /** Pipelines with a channel pointer or an image in the catalog, sorted. */
  async pipelines(): Promise<string[]> {
    const names = new Set<string>();
    try {
      for (const entry of await readdir(path.join(this.catalog.root, 'channels'), { withFileTypes: true })) {
        if (entry.isDirectory()) names.add(entry.name);
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    for (const image of await this.catalog.listImages()) {
      const pipeline = image.tags[TAG.pipeline];
      if (pipeline) names.add(pipeline);
    }
    return [...names].sort();
  }

  /** The local factory's defaults (`local/factory.ts`); override with `--max-age-days`/`--keep-latest`. */
  async retentionSettings(): Promise<RetentionSettings> {
    return {
      maxAgeDays: DEFAULT_MAX_AGE_DAYS,
      keepLatest: DEFAULT_KEEP_LATEST,
      recentLaunchDays: DEFAULT_RECENT_LAUNCH_DAYS,
      defaultChannel: 'stable',
    };
  }

  async sweepPlan(): Promise<SweepReport> {
    throw new UsageError(
      'the local backend has no sweeper and needs none',
      'a local run cleans up when it ends or is interrupted (no VM, mount or temporary image is left); sweep works on a deployed stack (drop --local)',
    );
  }

  get #executionsDir(): string {
    return path.join(this.stateDir, 'executions');
  }

  /** Every recorded local execution, newest first. */
  async #records(): Promise<ExecutionSummary[]> {
    let files: string[];
    try {
      files = (await readdir(this.#executionsDir)).filter((name) => name.endsWith('.json'));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const records: ExecutionSummary[] = [];
    for (const file of files.sort().reverse()) {
      records.push(
        JSON.parse(await readFile(path.join(this.#executionsDir, file), 'utf8')) as ExecutionSummary,
      );
    }
    return records;
  }

  /** Record a local run (what `start --local` does after every run). */
  async record(summary: ExecutionSummary): Promise<string> {
    await mkdir(this.#executionsDir, { recursive: true });
    const stamp = (summary.startedAt ?? new Date().toISOString()).replace(/[:.]/g, '-');
    const file = path.join(this.#executionsDir, `${stamp}-${summary.name}.json`);
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(summary, null, 2)}\n`);
    await rename(temporary, file);
    return file;
  }

  async executions(options: { limit: number; pipeline?: string | undefined }): Promise<ExecutionSummary[]> {
    return (await this.#records())
      .filter((record) => options.pipeline === undefined || record.pipeline === options.pipeline)
      .slice(0, options.limit);
  }

  async execution(reference?: string): Promise<ExecutionSummary> {
    const records = await this.#records();
    const found = reference === undefined ? records[0] : records.find((record) => record.name === reference);
    if (!found) {
      throw new OperatorError(
        reference === undefined
          ? `no local executions recorded in ${this.stateDir}`
          : `no local execution ${reference} recorded in ${this.stateDir}`,
        'local executions are recorded by: factory start --local (see them with: factory list --local)',
      );
    }
    // Records written before cost notes existed say it too.
    return { ...found, costNote: found.costNote ?? LOCAL_COST_NOTE };
  }

  /**
   * Run the pipeline locally (`runLocalFactory`): bake, boot, probe, promote, retention, in this
   * process, printing each state as it runs; then record the run.
   * @throws UsageError for inputs the local backend does not take (source AMI, commit, repository,
   *   attempt), or `--no-follow` (a local run lives in this process).
   */
  async start(input: ExecutionInput, options: StartOptions): Promise<ExecutionSummary> {
    const unsupported = AWS_ONLY_INPUTS.filter((key) => input[key] !== undefined);
    if (unsupported.length > 0) {
      throw new UsageError(
        `the local backend does not take ${unsupported.join(', ')}`,
        'a local run bakes the working tree from the local Debian 12 base image; drop these options, or start on AWS',
      );
    }
    if (!options.follow) {
      throw new UsageError(
        '--no-follow is not available with --local',
        'a local execution runs in this process: run it in another terminal, or without --no-follow',
      );
    }
    const run = this.runner ?? (await import('#local/factory.js')).runLocalFactory;
    const summary = await run({
      pipeline: input.pipeline,
      channel: input.channel,
      // A layered run inherits the parent's base image; runLocalFactory reads baseImage only without one.
      baseImage: input.baseImage ?? LOCAL_BASE_IMAGE,
      ...(input.parent ? { parent: input.parent } : {}),
      ...(input.imageDefinition ? { imageDefinition: input.imageDefinition } : {}),
      stateDir: this.stateDir,
      retention: {
        maxAgeDays: DEFAULT_MAX_AGE_DAYS,
        keepLatest: DEFAULT_KEEP_LATEST,
        dryRun: input.retentionDryRun ?? false,
      },
      write: options.write,
      signal: options.signal,
    });
    options.write(renderSummary(summary));
    const record = localExecutionSummary(summary, input, new Date());
    await this.record(record);
    return record;
  }
}
