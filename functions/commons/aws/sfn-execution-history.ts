/**
 * `ExecutionHistory` on Step Functions: `GetExecutionHistory`, oldest event first, without
 * execution data (names and times only), read by the pipeline's own notify functions
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html:
 * pages of up to 1000 events, `ExecutionDoesNotExist`, `InvalidArn`; IAM action
 * `states:GetExecutionHistory` on the execution's ARN).
 */
import { type HistoryEvent, paginateGetExecutionHistory, type SFNClient } from '@aws-sdk/client-sfn';
import type { ClientProvider } from '../clients/lazy-client.js';
import { executionArnOf } from '../core/build-key.js';
import { type HistoryEventLike, readHistory, type StateRun } from '../core/execution-history.js';
import type { ExecutionHistory } from '../ports.js';

/** Events of one page (the API's maximum). */
const PAGE_SIZE = 1000;
/**
 * Most events read: far above an execution of this pipeline (each poll check is about six events,
 * and the poll loops are bounded), so that a report never pages without end within its Lambda's timeout.
 */
export const MAX_HISTORY_EVENTS = 10_000;

/** The history exceeds {@link MAX_HISTORY_EVENTS}; the report says so instead of showing a partial one. */
export class HistoryTooLong extends Error {
  constructor(executionArn: string) {
    super(`${executionArn}: more than ${MAX_HISTORY_EVENTS} history events`);
    this.name = 'HistoryTooLong';
  }
}

/**
 * The execution is not one of this stack's state machine (a build document from elsewhere): its
 * history is not read, since the role may read only its own state machine's executions.
 */
export class ForeignExecution extends Error {
  constructor(executionArn: string, stateMachineArn: string) {
    super(`${executionArn} is not an execution of ${stateMachineArn}`);
    this.name = 'ForeignExecution';
  }
}

const toEvent = (event: HistoryEvent): HistoryEventLike => ({
  ...(event as unknown as Record<string, unknown>),
  id: event.id ?? 0,
  type: event.type ?? '',
  timestamp: event.timestamp ?? new Date(0),
});

export class SfnExecutionHistory implements ExecutionHistory {
  /** @param stateMachineArn the stack's state machine: only its executions are read. */
  constructor(
    private readonly client: ClientProvider<SFNClient>,
    private readonly stateMachineArn: string,
  ) {}

  /**
   * @throws ForeignExecution (nothing is called) for an execution of another state machine;
   *   HistoryTooLong; the SDK's errors (AccessDeniedException, ExecutionDoesNotExist, throttling
   *   after its retries).
   */
  async runsOf(executionArn: string): Promise<{ runs: StateRun[]; startedAt?: number }> {
    if (!executionArn.startsWith(executionArnOf(this.stateMachineArn, '')))
      throw new ForeignExecution(executionArn, this.stateMachineArn);
    const events: HistoryEventLike[] = [];
    for await (const page of paginateGetExecutionHistory(
      { client: this.client(), pageSize: PAGE_SIZE },
      { executionArn, includeExecutionData: false },
    )) {
      events.push(...(page.events ?? []).map(toEvent));
      if (events.length > MAX_HISTORY_EVENTS) throw new HistoryTooLong(executionArn);
    }
    const { runs, startedAt } = readHistory(events);
    return { runs, ...(startedAt === undefined ? {} : { startedAt }) };
  }
}
