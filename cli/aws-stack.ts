/**
 * The deployed stack of a stage in a region, found by its CloudFormation outputs: `DescribeStacks`
 * on `golden-image-factory-<stage>` (or `--stack`) gives the state machine, the stage, the channel
 * parameter prefix, the promotion ledger table, the event bus and the names of the functions whose settings the
 * CLI applies (`serverless/stack.yml` Outputs, {@link STACK_OUTPUTS}).
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CLIENT_CONFIG } from '#commons/clients/lazy-client.js';
import { OperatorError } from './errors.js';

/** The stack outputs the CLI reads (`serverless/stack.yml`). */
export const STACK_OUTPUTS = {
  stateMachineArn: 'StateMachineArn',
  stage: 'Stage',
  channelParameterPrefix: 'ChannelParameterPrefix',
  promotionLedgerTable: 'PromotionLedgerTableName',
  applyRetentionFunction: 'ApplyRetentionFunctionName',
  sweepLeftoversFunction: 'SweepLeftoversFunctionName',
  eventBusName: 'EventBusName',
} as const;

/**
 * Outputs only some commands need, absent from stacks deployed before them: a command that needs
 * one says so when it is missing (`factory diff` and `SbomBucketName`).
 */
export const OPTIONAL_STACK_OUTPUTS = {
  sbomBucket: 'SbomBucketName',
} as const;

/** The value of each of {@link STACK_OUTPUTS}, and of each {@link OPTIONAL_STACK_OUTPUTS} the stack has. */
export type StackFacts = Record<keyof typeof STACK_OUTPUTS, string> &
  Partial<Record<keyof typeof OPTIONAL_STACK_OUTPUTS, string>>;

/** The service name of `serverless.yml`: stacks are `<service>-<stage>`. */
export const SERVICE = 'golden-image-factory';

/**
 * Find the stack of `stage` (or `stackName`) in `region` and read its outputs.
 * @returns the stack's name and the value of every output the CLI reads.
 * @throws OperatorError when the stack does not exist or lacks an output (deployed by an older
 *   version); the SDK's errors for credentials and permissions.
 */
export async function findStack(options: {
  stage: string;
  region: string;
  stackName?: string | undefined;
}): Promise<{ stackName: string; facts: StackFacts }> {
  const stackName = options.stackName ?? `${SERVICE}-${options.stage}`;
  const cloudFormation = new CloudFormationClient({ ...CLIENT_CONFIG, region: options.region });
  let outputs: Map<string, string>;
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) {
      throw new OperatorError(
        `stack ${stackName} does not exist in ${options.region}`,
        `deploy it (npx serverless deploy --stage ${options.stage} --region ${options.region}), or pass the --stage, --region or --stack it was deployed with, or use --local`,
      );
    }
    throw error;
  } finally {
    cloudFormation.destroy();
  }
  const facts: Partial<StackFacts> = {};
  for (const [key, output] of Object.entries(OPTIONAL_STACK_OUTPUTS) as Array<
    [keyof typeof OPTIONAL_STACK_OUTPUTS, string]
  >) {
    const value = outputs.get(output);
    if (value) facts[key] = value;
  }
  for (const [key, output] of Object.entries(STACK_OUTPUTS) as Array<[keyof typeof STACK_OUTPUTS, string]>) {
    const value = outputs.get(output);
    if (!value) {
      throw new OperatorError(
        `stack ${stackName} in ${options.region} has no output ${output}`,
        'it was deployed by an older version of the factory: deploy this version (npx serverless deploy)',
      );
    }
    facts[key] = value;
  }
  return { stackName, facts: facts as StackFacts };
}
