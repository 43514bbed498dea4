/**
 * The executions of the stack's state machine as the CLI shows them: described
 * (`DescribeExecution`), their history read (`GetExecutionHistory`) for the time per state and the
 * failing state, listed (`ListExecutions`), and followed while they run.
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  ListExecutionsCommand,
  paginateGetExecutionHistory,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { type CostDeployment, estimateBuildCost } from '#commons/core/build-cost.js';
import { executionArnOf } from '#commons/core/build-key.js';
import { usageOfRuns } from '#commons/core/build-times.js';
import {
  failingState,
  type HistoryEventLike,
  readHistory,
  timePerState,
} from '#commons/core/execution-history.js';
import { executionConsoleUrl, imageConsoleUrl, inspectionSummary } from '#commons/report.js';
import type { ExecutionSummary, StartOptions } from './backend.js';
import { OperatorError, UsageError } from './errors.js';
import { followHistory } from './follow.js';

/** Events of one `GetExecutionHistory` page (its maximum). */
const HISTORY_PAGE = 1000;
/** Most history events read to find where a finished execution failed (newest first). */
const FAILURE_SCAN_EVENTS = 2000;
/** Most executions `list` describes to fill a filtered page. */
const LIST_SCAN_LIMIT = 200;

const toEvent = (event: HistoryEvent): HistoryEventLike => ({
  ...(event as unknown as Record<string, unknown>),
  id: event.id ?? 0,
  type: event.type ?? '',
  timestamp: event.timestamp ?? new Date(0),
});

const inputOf = (described: DescribeExecutionCommandOutput): { pipeline?: string; channel?: string } => {
  try {
    const input = JSON.parse(described.input ?? '{}') as { pipeline?: unknown; channel?: unknown };
    return {
      ...(typeof input.pipeline === 'string' ? { pipeline: input.pipeline } : {}),
      ...(typeof input.channel === 'string' ? { channel: input.channel } : {}),
    };
  } catch {
    return {};
  }
};

/** The image an execution's output names: the promoted one, else the candidate. */
const imageOf = (described: DescribeExecutionCommandOutput): string | undefined => {
  try {
    const output = JSON.parse(described.output ?? '{}') as {
      promotion?: { imageId?: unknown };
      candidate?: { imageId?: unknown };
    };
    const imageId = output.promotion?.imageId ?? output.candidate?.imageId;
    return typeof imageId === 'string' ? imageId : undefined;
  } catch {
    return undefined;
  }
};

/** The package diff and gate of an execution's output (`report.ts` `inspectionSummary`). */
const inspectionOf = (described: DescribeExecutionCommandOutput) => {
  try {
    return inspectionSummary(JSON.parse(described.output ?? 'null'));
  } catch {
    return {};
  }
};

/** The executions of one state machine, read with the operator's credentials. */
export class SfnExecutions {
  /**
   * @param sfn the Step Functions client of the stack's region (the caller closes it).
   * @param where how errors name the stack (`stack <name> in <region>`).
   */
  constructor(
    private readonly sfn: SFNClient,
    readonly stateMachineArn: string,
    private readonly where: string,
  ) {}

  /**
   * The ARN of an execution given by name or ARN.
   * @throws UsageError when `reference` is neither.
   */
  arnOf(reference: string): string {
    if (reference.startsWith('arn:')) return reference;
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(reference)) {
      throw new UsageError(
        `"${reference}" is not an execution name or ARN`,
        'see the names with: factory list',
      );
    }
    return executionArnOf(this.stateMachineArn, reference);
  }

  async #describe(arn: string): Promise<DescribeExecutionCommandOutput> {
    try {
      return await this.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') {
        throw new OperatorError(
          `no execution ${arn.split(':').at(-1)} of ${this.stateMachineArn.split(':').at(-1)}`,
          'see the recent ones with: factory list (Step Functions keeps closed executions 90 days)',
        );
      }
      throw error;
    }
  }

  /** Up to `limit` events, newest first (or oldest first). */
  async #history(arn: string, options: { newestFirst: boolean; limit: number }): Promise<HistoryEventLike[]> {
    const events: HistoryEventLike[] = [];
    for await (const page of paginateGetExecutionHistory(
      { client: this.sfn, pageSize: HISTORY_PAGE },
      { executionArn: arn, reverseOrder: options.newestFirst, includeExecutionData: false },
    )) {
      events.push(...(page.events ?? []).map(toEvent));
      if (events.length >= options.limit) break;
    }
    return events;
  }

  /** Events newer than `afterId`, read newest first until the one already seen. */
  async #newEvents(arn: string, afterId: number): Promise<HistoryEventLike[]> {
    const events: HistoryEventLike[] = [];
    for await (const page of paginateGetExecutionHistory(
      { client: this.sfn, pageSize: HISTORY_PAGE },
      { executionArn: arn, reverseOrder: true, includeExecutionData: false },
    )) {
      const batch = (page.events ?? []).map(toEvent);
      events.push(...batch.filter((event) => event.id > afterId));
      if (batch.some((event) => event.id <= afterId)) break;
    }
    return events;
  }

  #summary(
    described: DescribeExecutionCommandOutput,
    events: readonly HistoryEventLike[] | undefined,
    now: Date,
  ): ExecutionSummary {
    const status = described.status ?? 'UNKNOWN';
    const started = described.startDate;
    const stopped = described.stopDate;
    const history = events ? readHistory(events) : undefined;
    const failing = history
      ? failingState(
          history.runs.map((run) => run.name),
          status,
        )
      : undefined;
    const link = executionConsoleUrl(described.executionArn);
    return {
      name: described.name ?? '',
      ...(described.executionArn ? { arn: described.executionArn } : {}),
      status,
      ...inputOf(described),
      ...(started ? { startedAt: started.toISOString() } : {}),
      ...(stopped ? { stoppedAt: stopped.toISOString() } : {}),
      ...(started ? { seconds: ((stopped ?? now).getTime() - started.getTime()) / 1000 } : {}),
      ...(failing ? { failingState: failing } : {}),
      ...((described.error ?? history?.end?.error) ? { error: described.error ?? history?.end?.error } : {}),
      ...((described.cause ?? history?.end?.cause) ? { cause: described.cause ?? history?.end?.cause } : {}),
      ...(link ? { link } : {}),
    };
  }

  /** The summary of an execution without its history (status, times, error as described). */
  async brief(arn: string): Promise<ExecutionSummary> {
    return this.#summary(await this.#describe(arn), undefined, new Date());
  }

  /**
   * One execution with its time per state, its image and, when `costDeployment` gives the
   * deployment's sizes, its estimated cost (`core/build-cost.ts`, from the history as the build
   * report computes it); when that throws, `costNote` says why. The one named (name or ARN), else
   * the newest.
   * @throws OperatorError when there is no such execution, or none at all; UsageError for a malformed name.
   */
  async execution(
    reference?: string,
    costDeployment?: () => Promise<CostDeployment>,
  ): Promise<ExecutionSummary> {
    let arn = reference === undefined ? undefined : this.arnOf(reference);
    if (arn === undefined) {
      const { executions } = await this.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, maxResults: 1 }),
      );
      arn = executions?.[0]?.executionArn;
      if (!arn)
        throw new OperatorError(`no executions yet on ${this.where}`, 'start one with: factory start');
    }
    const described = await this.#describe(arn);
    const events = await this.#history(arn, { newestFirst: false, limit: Number.POSITIVE_INFINITY });
    const now = new Date();
    const { runs } = readHistory(events);
    const imageId = imageOf(described);
    const imageLink = imageId === undefined ? undefined : imageConsoleUrl(arn, imageId);
    let cost: Pick<ExecutionSummary, 'cost' | 'costNote'> = {};
    if (costDeployment) {
      try {
        const estimate = estimateBuildCost(usageOfRuns(runs, now.getTime()), await costDeployment());
        cost = { cost: { total: estimate.total, items: { ...estimate.items }, unpriced: estimate.unpriced } };
      } catch (error) {
        cost = { costNote: `unavailable: ${(error as Error).message}` };
      }
    }
    return {
      ...this.#summary(described, events, now),
      ...inspectionOf(described),
      states: timePerState(runs, now.getTime()),
      ...(imageId ? { imageId } : {}),
      ...(imageLink ? { imageLink } : {}),
      ...cost,
    };
  }

  /**
   * The newest executions, at most `limit` (of `pipeline` only, when given, among the newest
   * {@link LIST_SCAN_LIMIT}); where a finished one failed is read from its last events.
   */
  async executions(options: { limit: number; pipeline?: string | undefined }): Promise<ExecutionSummary[]> {
    const found: ExecutionSummary[] = [];
    let nextToken: string | undefined;
    let scanned = 0;
    const now = new Date();
    do {
      const page = await this.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: this.stateMachineArn,
          maxResults: Math.min(100, options.limit),
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      nextToken = page.nextToken;
      for (const item of page.executions ?? []) {
        if (found.length >= options.limit || scanned >= LIST_SCAN_LIMIT || !item.executionArn) break;
        scanned += 1;
        const described = await this.#describe(item.executionArn);
        if (options.pipeline !== undefined && inputOf(described).pipeline !== options.pipeline) continue;
        const ended = described.status !== 'RUNNING' && described.status !== 'SUCCEEDED';
        const events = ended
          ? (
              await this.#history(item.executionArn, { newestFirst: true, limit: FAILURE_SCAN_EVENTS })
            ).reverse()
          : undefined;
        found.push(this.#summary(described, events, now));
      }
    } while (nextToken && found.length < options.limit && scanned < LIST_SCAN_LIMIT);
    return found;
  }

  /** Write each state of the execution as it is entered, until it stops or `options.signal` aborts. */
  async follow(arn: string, options: Omit<StartOptions, 'follow'>): Promise<void> {
    await followHistory({
      fetch: (afterId) => this.#newEvents(arn, afterId),
      write: options.write,
      pollMs: options.pollMs,
      signal: options.signal,
      spinner: options.spinner,
    });
  }
}
