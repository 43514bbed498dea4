/** `factory status` and `factory list`: one execution in detail, and the recent executions. */
import type { Command } from 'commander';
import { formatUsd } from '#commons/core/build-cost.js';
import type { ExecutionSummary } from '../backend.js';
import { formatAge, formatDuration, renderTable } from '../format.js';
import type { CommandContext } from './context.js';
import { wholeOption } from './options.js';

const DEFAULT_LIST_LIMIT = 20;

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
    ['image', summary.imageId],
    ['image console', summary.imageLink],
    ['packages', summary.packages],
    ['vulnerability', summary.vulnerabilities],
    ['cost', summary.costNote],
  ]
    .filter(([, value]) => value !== undefined && value !== '')
    .map(
      ([label, value]) =>
        `${String(label).padEnd(14)}${String(value).replaceAll('\n', `\n${' '.repeat(14)}`)}\n`,
    )
    .join('');
  const states = summary.states ?? [];
  const stateTable =
    states.length === 0
      ? ''
      : `\n${renderTable(
          ['STATE', 'TIME', 'ENTRIES'],
          states.map((s) => [s.state, formatDuration(s.seconds), String(s.entries)]),
        )}`;
  return `${lines}${stateTable}${summary.cost ? `\n${costText(summary.cost)}` : ''}`;
};

/** The estimated cost per line and in total (README "Cost estimate"). */
const costText = (cost: NonNullable<ExecutionSummary['cost']>): string => {
  const note = cost.unpriced.length === 0 ? '' : ` (at least: no list price for ${cost.unpriced.join(', ')})`;
  return `${renderTable(
    ['ESTIMATED COST', 'USD'],
    [
      ...Object.entries(cost.items).map(([item, usd]) => [item, formatUsd(usd)]),
      ['total', formatUsd(cost.total)],
    ],
  )}at us-east-1 list prices${note}; see README "Cost estimate"\n`;
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

/** Add `status` and `list` to `root`. */
export function registerExecutions(root: Command, context: CommandContext): void {
  root
    .command('status')
    .description(
      'one execution: status, time per state, estimated cost, image, failing state and error (default: the newest)',
    )
    .argument('[execution]', 'execution name or ARN')
    .action(async (reference: string | undefined, _options: unknown, command: Command) => {
      const global = context.globals(command);
      const summary = await (await context.one(global)).execution(reference);
      context.print(global, summary, statusText(summary));
    });

  root
    .command('list')
    .description('recent executions per pipeline: outcome, duration, failing state')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--limit <n>', 'most executions shown', String(DEFAULT_LIST_LIMIT))
    .action(async (options: { pipeline?: string; limit: string }, command: Command) => {
      const global = context.globals(command);
      const limit = wholeOption('--limit', options.limit, 1);
      const summaries = await (await context.one(global)).executions({ limit, pipeline: options.pipeline });
      context.print(global, summaries, listText(summaries, context.now()));
    });
}
