/**
 * `factory retention plan` and `factory sweep --dry-run`: what retention would deregister and what
 * the sweeper would remove, computed by the pipeline's own steps in dry-run mode (nothing changes).
 */
import type { Command } from 'commander';
import { TAG } from '#commons/core/tags.js';
import { applyRetention } from '#commons/steps/apply-retention.js';
import type { Backend, RetentionSettings } from '../backend.js';
import { UsageError } from '../errors.js';
import { formatAge, renderTable } from '../format.js';
import type { CommandContext } from './context.js';
import { wholeOption } from './options.js';

interface RetentionPlanOptions {
  pipeline?: string;
  maxAgeDays?: string;
  keepLatest?: string;
}

/** The plan of every pipeline (or `--pipeline`) and its rows: pipeline, image, age, channel tag, decision, reason. */
const retentionPlans = async (
  backend: Backend,
  options: RetentionPlanOptions,
  limits: RetentionSettings,
  now: Date,
) => {
  const ports = backend.ports();
  const plans = [];
  const rows: string[][] = [];
  for (const pipeline of options.pipeline ? [options.pipeline] : await backend.pipelines()) {
    const images = new Map(
      (await ports.images.findImages({ [TAG.pipeline]: pipeline })).map((image) => [image.imageId, image]),
    );
    const plan = await applyRetention(
      { build: { pipeline, channel: limits.defaultChannel }, retentionDryRun: true },
      ports,
      {
        maxAgeDays: limits.maxAgeDays,
        keepLatest: limits.keepLatest,
        recentLaunchDays: limits.recentLaunchDays,
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
        formatAge(image?.createdAt, now),
        image?.tags[TAG.channel] ?? '',
        outcome.outcome === 'planned' ? 'deregister' : outcome.outcome === 'kept' ? 'keep' : outcome.outcome,
        outcome.error ? `${outcome.reason}: ${outcome.error}` : outcome.reason,
      ]);
    }
  }
  return { plans, rows };
};

/** Add `retention plan` and `sweep` to `root`. */
export function registerCleanup(root: Command, context: CommandContext): void {
  root
    .command('retention')
    .description('retention of promoted images')
    .command('plan')
    .description('dry run: what retention would deregister and keep, and why (changes nothing)')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--max-age-days <n>', "age limit (default: the stage's)")
    .option('--keep-latest <n>', "newest images always kept (default: the stage's)")
    .action(async (options: RetentionPlanOptions, command: Command) => {
      const global = context.globals(command);
      const backend = await context.one(global);
      const settings = await backend.retentionSettings();
      const maxAgeDays = options.maxAgeDays
        ? wholeOption('--max-age-days', options.maxAgeDays)
        : settings.maxAgeDays;
      const keepLatest = options.keepLatest
        ? wholeOption('--keep-latest', options.keepLatest)
        : settings.keepLatest;
      const { plans, rows } = await retentionPlans(
        backend,
        options,
        { ...settings, maxAgeDays, keepLatest },
        context.now(),
      );
      const header = `retention plan (dry run, nothing changed) on ${backend.where}: deregister older than ${maxAgeDays} days; keep the newest ${keepLatest}, current and previous images, protected, in use, shared and launched within ${settings.recentLaunchDays} days\n`;
      const omitted = plans.reduce((sum, plan) => sum + (plan.omitted ?? 0), 0);
      context.print(
        global,
        { settings: { maxAgeDays, keepLatest, recentLaunchDays: settings.recentLaunchDays }, plans },
        `${header}${rows.length ? renderTable(['PIPELINE', 'IMAGE', 'AGE', 'CHANNEL TAG', 'DECISION', 'REASON'], rows) : 'no images\n'}${omitted ? `${omitted} more not listed\n` : ''}`,
      );
    });

  root
    .command('sweep')
    .description("the sweeper's plan: what builds left behind and would be removed (AWS only)")
    .option('--dry-run', 'report only (required: the CLI never removes; the sweeper Lambda does)')
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const global = context.globals(command);
      if (!options.dryRun) {
        throw new UsageError(
          'sweep needs --dry-run: the CLI only shows the plan',
          'the sweeper Lambda removes leftovers on its schedule and after every failed execution; README "Sweeper" shows how to invoke it now',
        );
      }
      const backend = await context.one(global);
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
      context.print(
        global,
        report,
        `sweep plan (dry run, nothing removed) on ${backend.where}\n${rows.length ? renderTable(['KIND', 'RESOURCE', 'NAME', 'PIPELINE', 'BUILD ID', 'EXECUTION', 'DECISION', 'REASON'], rows) : 'nothing left behind\n'}`,
      );
    });
}
