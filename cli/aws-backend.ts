/**
 * The AWS backend of the CLI: the deployed stack of a stage in a region (`aws-stack.ts` finds it by
 * its CloudFormation outputs). Retention and sweeper settings and the pipelines are read from the
 * environment of the stack's functions (`GetFunctionConfiguration`), so a plan uses exactly what
 * the stage's Lambda would; executions are read and followed by `aws-executions.ts`.
 * https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html
 *
 * The operator's own credentials make every call; the steps run in this process with the same
 * adapters the Lambdas use (`functions/commons/aws/`).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDbPromotionLedger } from '#commons/aws/dynamodb-promotion-ledger.js';
import { Ec2ImageStore } from '#commons/aws/ec2-image-store.js';
import { Ec2LeftoverStore } from '#commons/aws/ec2-leftover-store.js';
import { EventBridgePublisher } from '#commons/aws/eventbridge-publisher.js';
import { S3SbomStore } from '#commons/aws/s3-sbom-store.js';
import { SfnExecutionStatus } from '#commons/aws/sfn-execution-status.js';
import { PublicParameterSourceImageResolver } from '#commons/aws/source-image-resolver.js';
import { SsmChannelPointer } from '#commons/aws/ssm-channel-pointer.js';
import { startBuild } from '#commons/aws/start-execution.js';
import { resolvePipelineSource } from '#commons/build-source.js';
import { CLIENT_CONFIG } from '#commons/clients/lazy-client.js';
import { executionArnOf, FIRST_ATTEMPT } from '#commons/core/build-key.js';
import { costDeploymentOf } from '#commons/core/build-times.js';
import {
  DEFAULT_KEEP_LATEST,
  DEFAULT_MAX_AGE_DAYS,
  DEFAULT_RECENT_LAUNCH_DAYS,
} from '#commons/core/retention.js';
import type { ExecutionInput } from '#commons/execution-input.js';
import { parsePipelines } from '#commons/pipelines.js';
import { executionConsoleUrl } from '#commons/report.js';
import { type SweepReport, sweepLeftovers } from '#commons/steps/sweep-leftovers.js';
import { SfnExecutions } from './aws-executions.js';
import { findStack, type StackFacts } from './aws-stack.js';
import type { Backend, CommandPorts, ExecutionSummary, RetentionSettings, StartOptions } from './backend.js';
import { OperatorError } from './errors.js';
import { cliHolder } from './holder.js';

/** The SBOM store of a stack without an SBOM bucket (deployed before SBOMs): every read says so. */
const noSbomBucket = (where: string) => ({
  read: async (uri: string): Promise<string> => {
    throw new OperatorError(
      `${where} has no output SbomBucketName, so ${uri} cannot be read`,
      'it was deployed before SBOMs: deploy this version of the factory (npx serverless deploy)',
    );
  },
});

/** A whole-number setting of a function's environment, or `fallback` when unset. */
const whole = (environment: Record<string, string>, key: string, fallback: number, where: string): number => {
  const raw = environment[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new OperatorError(
      `${where} has ${key}="${raw}", not a whole number`,
      'fix the stage parameter and deploy',
    );
  }
  return value;
};

export class AwsBackend implements Backend {
  readonly kind = 'aws' as const;
  readonly where: string;
  readonly holder = cliHolder();
  readonly stage: string;
  readonly #ec2: EC2Client;
  readonly #ssm: SSMClient;
  readonly #sfn: SFNClient;
  readonly #dynamodb: DynamoDBClient;
  readonly #lambda: LambdaClient;
  readonly #eventBridge: EventBridgeClient;
  readonly #s3: S3Client;
  readonly #executions: SfnExecutions;
  readonly #environments = new Map<string, Promise<Record<string, string>>>();
  #ports: CommandPorts | undefined;

  private constructor(
    readonly region: string,
    readonly stackName: string,
    readonly stack: StackFacts,
    private readonly warn: (text: string) => void,
  ) {
    this.where = `stack ${stackName} in ${region}`;
    this.stage = stack.stage;
    const config = { ...CLIENT_CONFIG, region };
    this.#ec2 = new EC2Client(config);
    this.#ssm = new SSMClient(config);
    this.#sfn = new SFNClient(config);
    this.#dynamodb = new DynamoDBClient(config);
    this.#lambda = new LambdaClient(config);
    this.#eventBridge = new EventBridgeClient(config);
    this.#s3 = new S3Client(config);
    this.#executions = new SfnExecutions(this.#sfn, stack.stateMachineArn, this.where);
  }

  /**
   * Find the stack and read its outputs (`aws-stack.ts` {@link findStack}).
   * @throws OperatorError when the stack does not exist or lacks an output (deployed by an older
   *   version); the SDK's errors for credentials and permissions.
   */
  static async connect(options: {
    stage: string;
    region: string;
    stackName?: string | undefined;
    warn: (text: string) => void;
  }): Promise<AwsBackend> {
    const { stackName, facts } = await findStack(options);
    return new AwsBackend(options.region, stackName, facts, options.warn);
  }

  close(): void {
    for (const client of [
      this.#ec2,
      this.#ssm,
      this.#sfn,
      this.#dynamodb,
      this.#lambda,
      this.#eventBridge,
      this.#s3,
    ])
      client.destroy();
  }

  ports(): CommandPorts {
    this.#ports ??= (() => {
      const images = new Ec2ImageStore(
        () => this.#ec2,
        this.stage,
        (imageIds, error) =>
          this.warn(
            `warning: reference scan of ${imageIds.join(', ')} failed (${String(error)}); counted as in use\n`,
          ),
      );
      return {
        images,
        pointer: new SsmChannelPointer(() => this.#ssm, this.stack.channelParameterPrefix),
        ledger: new DynamoDbPromotionLedger(
          () => this.#dynamodb,
          this.stack.promotionLedgerTable,
          this.stage,
        ),
        sources: new PublicParameterSourceImageResolver(
          () => this.#ec2,
          () => this.#ssm,
        ),
        events: new EventBridgePublisher(() => this.#eventBridge, this.stack.eventBusName, {
          stage: this.stage,
          region: this.region,
        }),
        sboms:
          this.stack.sbomBucket === undefined
            ? noSbomBucket(this.where)
            : new S3SbomStore(() => this.#s3, this.stack.sbomBucket),
      };
    })();
    return this.#ports;
  }

  /** The environment of one of the stack's functions (read once). */
  #environment(functionName: string): Promise<Record<string, string>> {
    let environment = this.#environments.get(functionName);
    if (!environment) {
      environment = this.#lambda
        .send(new GetFunctionConfigurationCommand({ FunctionName: functionName }))
        .then((configuration) => ({ ...(configuration.Environment?.Variables ?? {}) }));
      this.#environments.set(functionName, environment);
    }
    return environment;
  }

  /** The pipelines of a function's `PIPELINES`. */
  #pipelinesOf(environment: Record<string, string>): string[] {
    return parsePipelines(environment.PIPELINES ?? '', environment.DEFAULT_CHANNEL ?? 'stable').map(
      (entry) => entry.pipeline,
    );
  }

  async pipelines(): Promise<string[]> {
    return this.#pipelinesOf(await this.#environment(this.stack.applyRetentionFunction));
  }

  async retentionSettings(): Promise<RetentionSettings> {
    const name = this.stack.applyRetentionFunction;
    const environment = await this.#environment(name);
    const where = `function ${name}`;
    return {
      maxAgeDays: whole(environment, 'RETENTION_MAX_AGE_DAYS', DEFAULT_MAX_AGE_DAYS, where),
      keepLatest: whole(environment, 'RETENTION_KEEP_LATEST', DEFAULT_KEEP_LATEST, where),
      recentLaunchDays: whole(environment, 'RETENTION_RECENT_LAUNCH_DAYS', DEFAULT_RECENT_LAUNCH_DAYS, where),
      defaultChannel: environment.DEFAULT_CHANNEL || 'stable',
    };
  }

  async sweepPlan(): Promise<SweepReport> {
    const name = this.stack.sweepLeftoversFunction;
    const environment = await this.#environment(name);
    const graceMinutes = environment.SWEEPER_GRACE_MINUTES;
    if (graceMinutes === undefined) {
      throw new OperatorError(
        `function ${name} has no SWEEPER_GRACE_MINUTES`,
        'deploy this version of the factory',
      );
    }
    const images = this.ports().images;
    return sweepLeftovers(
      { dryRun: true },
      {
        leftovers: new Ec2LeftoverStore(() => this.#ec2, this.stage, images),
        executions: new SfnExecutionStatus(() => this.#sfn),
        images,
      },
      {
        scope: {
          stage: this.stage,
          stateMachineArn: this.stack.stateMachineArn,
          pipelines: this.#pipelinesOf(environment),
        },
        graceMinutes: whole(environment, 'SWEEPER_GRACE_MINUTES', 0, `function ${name}`),
        dryRun: true,
      },
    );
  }

  /** With its estimated cost, priced at the sizes of the stack's environment (`costDeploymentOf`). */
  execution(reference?: string): Promise<ExecutionSummary> {
    return this.#executions.execution(reference, async () =>
      costDeploymentOf(await this.#environment(this.stack.applyRetentionFunction)),
    );
  }

  executions(options: { limit: number; pipeline?: string | undefined }): Promise<ExecutionSummary[]> {
    return this.#executions.executions(options);
  }

  /**
   * Resolve the source as the triggers do (`build-source.ts` `resolvePipelineSource`): for a
   * layered build (`input.parent`) the image the parent channel's pointer names now, else the base
   * image's public parameter or the given source AMI, checked against the catalog's publishers.
   * Then start the build with its deterministic name (`aws/start-execution.ts`), and follow it
   * unless told not to.
   * @throws InvalidInput / ForeignBaseImage as PrepareBuild would (nothing started);
   *   OperatorError when the parent channel names no image, or this build's execution already exists.
   */
  async start(input: ExecutionInput, options: StartOptions): Promise<ExecutionSummary> {
    const source = await resolvePipelineSource(input, this.ports());
    if (!source) {
      // Only a layered build has no source: its parent channel names no image yet.
      const { pipeline = '', channel = '' } = input.parent ?? {};
      throw new OperatorError(
        `channel ${pipeline}/${channel} of ${this.where} names no image: nothing to bake from`,
        `promote a build of ${pipeline} to ${channel} first (factory images --pipeline ${pipeline})`,
      );
    }
    const { sourceImageId } = source;
    const request = { ...input, ...source.input };
    const started = await startBuild(() => this.#sfn, this.stack.stateMachineArn, request, sourceImageId);
    const arn = started.executionArn ?? executionArnOf(this.stack.stateMachineArn, started.executionName);
    if (!started.started) {
      const attempt = (input.attempt ?? FIRST_ATTEMPT) + 1;
      throw new OperatorError(
        `execution ${started.executionName} already exists: this build (pipeline, channel, source image ${sourceImageId}, commit, attempt) was started before`,
        `see it with: factory status ${started.executionName}; to build it again, start it with --attempt ${attempt}`,
      );
    }
    options.write(`execution ${started.executionName}\n`);
    const link = executionConsoleUrl(arn);
    if (link) options.write(`console   ${link}\n`);
    if (!options.follow) return this.#executions.brief(arn);
    await this.#executions.follow(arn, options);
    return this.execution(arn);
  }
}
