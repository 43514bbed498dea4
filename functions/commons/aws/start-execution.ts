/**
 * Start an image-factory execution with its deterministic name (`core/build-key.ts`).
 *
 * No trigger can start the same build twice: for a Standard state machine, StartExecution with a
 * name already used returns `ExecutionAlreadyExists` (a handled no-op here, `started: false`) —
 * except while that execution is still running with an identical input, when the call is
 * idempotent and returns the existing execution's ARN. Triggers build the input deterministically,
 * so a webhook redelivery or a watcher re-run always lands in one of these two cases.
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ClientProvider } from '../clients/lazy-client.js';
import { executionName } from '../core/build-key.js';
import type { ExecutionInput } from '../execution-input.js';

export interface StartResult {
  executionName: string;
  /** ARN of the new execution; undefined when it already existed. */
  executionArn?: string;
  started: boolean;
}

/**
 * @param sourceImageId the image the build bakes from, part of the name: `input.sourceImageId`, or
 *   for a layered build (`input.parent`) the image the parent channel names now.
 */
export const startBuild = async (
  client: ClientProvider<SFNClient>,
  stateMachineArn: string,
  input: ExecutionInput,
  sourceImageId: string,
): Promise<StartResult> => {
  const name = executionName({
    pipeline: input.pipeline,
    architecture: input.architecture,
    channel: input.channel,
    sourceImageId,
    commit: input.commit,
    attempt: input.attempt,
  });
  try {
    const result = await client().send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    return {
      executionName: name,
      started: true,
      ...(result.executionArn ? { executionArn: result.executionArn } : {}),
    };
  } catch (error) {
    if ((error as Error).name === 'ExecutionAlreadyExists') return { executionName: name, started: false };
    throw error;
  }
};
