/**
 * `CommandRunner` on SSM Run Command (`AWS-RunShellScript`).
 *
 * `SendCommand` starts the probe suite with an `executionTimeout` (seconds); `GetCommandInvocation`
 * reads status, `ResponseCode` and stdout. Right after `SendCommand` the invocation may not exist
 * yet: SSM then throws `InvocationDoesNotExist`, re-thrown as our error of the same name so the ASL
 * `Retry` matches it. Note: `StandardOutputContent` holds at most the first 24 000 characters.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 */
import { GetCommandInvocationCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ClientProvider } from '../clients/lazy-client.js';
import { InvocationDoesNotExist } from '../errors.js';
import type { CommandResult, CommandRunner, CommandStatus } from '../ports.js';

const STATUS: Record<string, CommandStatus> = {
  Pending: 'Pending',
  InProgress: 'InProgress',
  Delayed: 'InProgress',
  Success: 'Success',
  Failed: 'Failed',
  Cancelled: 'Failed',
  Cancelling: 'Failed',
  TimedOut: 'TimedOut',
};

export class SsmCommandRunner implements CommandRunner {
  constructor(
    private readonly client: ClientProvider<SSMClient>,
    /** Absolute path of the probe suite on the image. */
    private readonly probeCommand: string,
  ) {}

  async startProbe(
    instanceId: string,
    options: { timeoutSeconds: number; buildId: string },
  ): Promise<{ commandId: string }> {
    const result = await this.client().send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instanceId],
        Comment: `image factory probe ${options.buildId}`.slice(0, 100),
        Parameters: { commands: [this.probeCommand], executionTimeout: [String(options.timeoutSeconds)] },
      }),
    );
    const commandId = result.Command?.CommandId;
    if (!commandId) throw new Error(`SendCommand returned no command id for ${instanceId}`);
    return { commandId };
  }

  async readProbe(commandId: string, instanceId: string): Promise<CommandResult> {
    try {
      const result = await this.client().send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
      const status = STATUS[result.Status ?? ''] ?? 'Failed';
      const finished = status !== 'Pending' && status !== 'InProgress';
      const exitCode = result.ResponseCode;
      return {
        status,
        ...(finished && exitCode !== undefined && exitCode >= 0 ? { exitCode } : {}),
        stdout: result.StandardOutputContent ?? '',
        stderr: result.StandardErrorContent ?? '',
      };
    } catch (error) {
      if ((error as Error).name === 'InvocationDoesNotExist') {
        throw new InvocationDoesNotExist(commandId, instanceId, { cause: error });
      }
      throw error;
    }
  }
}
