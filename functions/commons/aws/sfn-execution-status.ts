/**
 * `ExecutionStatusReader` on Step Functions `DescribeExecution`
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html):
 * `status` is RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE; `stopDate` is
 * set once the execution has stopped; an ARN that names no execution (closed executions are kept
 * 90 days) answers `ExecutionDoesNotExist`, reported as `NOT_FOUND`.
 */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { ClientProvider } from '../clients/lazy-client.js';
import type { ExecutionFacts, ExecutionStatus } from '../core/sweep.js';
import type { ExecutionStatusReader } from '../ports.js';

const STATUSES: ReadonlySet<string> = new Set<ExecutionStatus>([
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'PENDING_REDRIVE',
]);

export class SfnExecutionStatus implements ExecutionStatusReader {
  constructor(private readonly client: ClientProvider<SFNClient>) {}

  /** @throws the SDK's error for anything but `ExecutionDoesNotExist`, and for a status it does not know. */
  async describe(executionArn: string): Promise<ExecutionFacts> {
    try {
      const { status, stopDate } = await this.client().send(new DescribeExecutionCommand({ executionArn }));
      if (status === undefined || !STATUSES.has(status)) {
        throw new Error(`DescribeExecution ${executionArn} answered an unknown status ${status}`);
      }
      return {
        status: status as ExecutionStatus,
        ...(stopDate ? { stoppedAt: stopDate.toISOString() } : {}),
      };
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return { status: 'NOT_FOUND' };
      throw error;
    }
  }
}
