/**
 * The deployed stack of a stage in a region, found by its CloudFormation outputs.
 *
 * `DescribeStacks` on `golden-image-factory-<stage>` (or `--stack`) gives the state machine, the
 * channel parameter prefix, the promotion ledger table, the event bus and the names of the functions whose
 * settings the CLI applies (`serverless/stack.yml` Outputs, {@link STACK_OUTPUTS}). Retention and
 * sweeper settings and the pipelines are read from those functions' environment
 * (`GetFunctionConfiguration`), so a plan uses exactly what the stage's Lambda would.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
 * https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html
 *
 * The operator's own credentials make every call; the steps run in this process with the same
 * adapters the Lambdas use (`functions/commons/aws/`).
 */
import { hostname, userInfo } from 'node:os';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  ListExecutionsCommand,
  paginateGetExecutionHistory,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDbPromotionLedger } from '#commons/aws/dynamodb-promotion-ledger.js';
import { Ec2ImageStore } from '#commons/aws/ec2-image-store.js';
import { Ec2LeftoverStore } from '#commons/aws/ec2-leftover-store.js';
import { EventBridgePublisher } from '#commons/aws/eventbridge-publisher.js';
import { SfnExecutionStatus } from '#commons/aws/sfn-execution-status.js';
import { PublicParameterSourceImageResolver } from '#commons/aws/source-image-resolver.js';
import { SsmChannelPointer } from '#commons/aws/ssm-channel-pointer.js';
import { startBuild } from '#commons/aws/start-execution.js';
import { CLIENT_CONFIG } from '#commons/clients/lazy-client.js';
import { parsePipelines } from '#commons/config.js';
import { assertTrustedSource, getBaseImage } from '#commons/core/base-images.js';
import { executionArnOf, FIRST_ATTEMPT } from '#commons/core/build-key.js';
import {
  DEFAULT_KEEP_LATEST,
  DEFAULT_MAX_AGE_DAYS,
  DEFAULT_RECENT_LAUNCH_DAYS,
} from '#commons/core/retention.js';
import { InvalidInput } from '#commons/errors.js';
import { executionConsoleUrl } from '#commons/report.js';
import type { ExecutionInput } from '#commons/schemas.js';
import { type SweepReport, sweepLeftovers } from '#commons/steps/sweep-leftovers.js';
import type { Backend, CommandPorts, ExecutionSummary, RetentionSettings, StartOptions } from './backend.js';
import { OperatorError, UsageError } from './errors.js';
import { followHistory } from './follow.js';
import { failingState, type HistoryEventLike, readHistory, timePerState } from './history.js';

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

type StackFacts = Record<keyof typeof STACK_OUTPUTS, string>;

/** The service name of `serverless.yml`: stacks are `<service>-<stage>`. */
export const SERVICE = 'golden-image-factory';

/** Events of one `GetExecutionHistory` page (its maximum). */
const HISTORY_PAGE = 1000;
/** Most history events read to find where a finished execution failed (newest first). */
const FAILURE_SCAN_EVENTS = 2000;
/** Most executions `list` describes to fill a filtered page. */
const LIST_SCAN_LIMIT = 200;

/** `factory-cli:<user>@<host>:<pid>`: who holds a lease the CLI takes (shown to whoever waits on it). */
export const cliHolder = (): string => {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return `factory-cli:${user}@${hostname()}:${process.pid}`;
};

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
  }

  /**
   * Find the stack and read its outputs.
   * @throws OperatorError when the stack does not exist or lacks an output (deployed by an older
   *   version); the SDK's errors for credentials and permissions.
   */
  static async connect(options: {
    stage: string;
    region: string;
    stackName?: string | undefined;
    warn: (text: string) => void;
  }): Promise<AwsBackend> {
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
    for (const [key, output] of Object.entries(STACK_OUTPUTS) as Array<[keyof StackFacts, string]>) {
      const value = outputs.get(output);
      if (!value) {
        throw new OperatorError(
          `stack ${stackName} in ${options.region} has no output ${output}`,
          'it was deployed by an older version of the factory: deploy this version (npx serverless deploy)',
        );
      }
      facts[key] = value;
    }
    return new AwsBackend(options.region, stackName, facts as StackFacts, options.warn);
  }

  close(): void {
    for (const client of [this.#ec2, this.#ssm, this.#sfn, this.#dynamodb, this.#lambda, this.#eventBridge])
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

  async pipelines(): Promise<string[]> {
    const environment = await this.#environment(this.stack.applyRetentionFunction);
    return parsePipelines(environment.PIPELINES ?? '', environment.DEFAULT_CHANNEL ?? 'stable').map(
      (entry) => entry.pipeline,
    );
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
          pipelines: parsePipelines(environment.PIPELINES ?? '', environment.DEFAULT_CHANNEL ?? 'stable').map(
            (entry) => entry.pipeline,
          ),
        },
        graceMinutes: whole(environment, 'SWEEPER_GRACE_MINUTES', 0, `function ${name}`),
        dryRun: true,
      },
    );
  }

  /** The ARN of an execution given by name or ARN. */
  #arnOf(reference: string): string {
    if (reference.startsWith('arn:')) return reference;
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(reference)) {
      throw new UsageError(
        `"${reference}" is not an execution name or ARN`,
        'see the names with: factory list',
      );
    }
    return executionArnOf(this.stack.stateMachineArn, reference);
  }

  async #describe(arn: string): Promise<DescribeExecutionCommandOutput> {
    try {
      return await this.#sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') {
        throw new OperatorError(
          `no execution ${arn.split(':').at(-1)} of ${this.stack.stateMachineArn.split(':').at(-1)}`,
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
      { client: this.#sfn, pageSize: HISTORY_PAGE },
      { executionArn: arn, reverseOrder: options.newestFirst, includeExecutionData: false },
    )) {
      events.push(...(page.events ?? []).map(toEvent));
      if (events.length >= options.limit) break;
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

  async execution(reference?: string): Promise<ExecutionSummary> {
    let arn = reference === undefined ? undefined : this.#arnOf(reference);
    if (arn === undefined) {
      const { executions } = await this.#sfn.send(
        new ListExecutionsCommand({ stateMachineArn: this.stack.stateMachineArn, maxResults: 1 }),
      );
      arn = executions?.[0]?.executionArn;
      if (!arn)
        throw new OperatorError(`no executions yet on ${this.where}`, 'start one with: factory start');
    }
    const described = await this.#describe(arn);
    const events = await this.#history(arn, { newestFirst: false, limit: Number.POSITIVE_INFINITY });
    const now = new Date();
    return {
      ...this.#summary(described, events, now),
      states: timePerState(readHistory(events).runs, now.getTime()),
    };
  }

  async executions(options: { limit: number; pipeline?: string | undefined }): Promise<ExecutionSummary[]> {
    const found: ExecutionSummary[] = [];
    let nextToken: string | undefined;
    let scanned = 0;
    const now = new Date();
    do {
      const page = await this.#sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: this.stack.stateMachineArn,
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

  /**
   * Resolve the source as the triggers do (`aws/triggers.ts` `resolvePipelineSource`): for a
   * layered build (`input.parent`) the image the parent channel's pointer names now, else the base
   * image's public parameter or the given source AMI, checked against the catalog's publishers.
   * Then start the build with its deterministic name (`aws/start-execution.ts`), and follow it
   * unless told not to.
   * @throws InvalidInput / ForeignBaseImage as PrepareBuild would (nothing started);
   *   OperatorError when the parent channel names no image, or this build's execution already exists.
   */
  async start(input: ExecutionInput, options: StartOptions): Promise<ExecutionSummary> {
    const { sourceImageId, request } = await this.#source(input);
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
    if (!options.follow) {
      return { ...this.#summary(await this.#describe(arn), undefined, new Date()) };
    }
    await followHistory({
      fetch: (afterId) => this.#newEvents(arn, afterId),
      write: options.write,
      pollMs: options.pollMs,
      signal: options.signal,
      spinner: options.spinner,
    });
    return this.execution(arn);
  }

  /** The image a build of `input` bakes from, and the input that names it. */
  async #source(input: ExecutionInput): Promise<{ sourceImageId: string; request: ExecutionInput }> {
    if (input.parent) {
      const { pipeline, channel } = input.parent;
      const position = await this.ports().pointer.current(pipeline, channel);
      if (!position) {
        throw new OperatorError(
          `channel ${pipeline}/${channel} of ${this.where} names no image: nothing to bake from`,
          `promote a build of ${pipeline} to ${channel} first (factory images --pipeline ${pipeline})`,
        );
      }
      return { sourceImageId: position.imageId, request: input };
    }
    if (input.baseImage === undefined) throw new InvalidInput('baseImage is required unless parent is given');
    const base = getBaseImage(input.baseImage);
    const sources = this.ports().sources;
    const source = input.sourceImageId
      ? await sources.describe(input.sourceImageId)
      : await sources.resolve(base.name);
    if (!source)
      throw new InvalidInput(`sourceImageId ${input.sourceImageId} does not exist or is not visible`);
    assertTrustedSource(base, source);
    return { sourceImageId: source.imageId, request: { ...input, sourceImageId: source.imageId } };
  }

  /** Events newer than `afterId`, read newest first until the one already seen. */
  async #newEvents(arn: string, afterId: number): Promise<HistoryEventLike[]> {
    const events: HistoryEventLike[] = [];
    for await (const page of paginateGetExecutionHistory(
      { client: this.#sfn, pageSize: HISTORY_PAGE },
      { executionArn: arn, reverseOrder: true, includeExecutionData: false },
    )) {
      const batch = (page.events ?? []).map(toEvent);
      events.push(...batch.filter((event) => event.id > afterId));
      if (batch.some((event) => event.id <= afterId)) break;
    }
    return events;
  }
}
