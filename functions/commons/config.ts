/**
 * Configuration from environment variables, read once per cold start.
 *
 * Each getter reads its variable on first access and caches it; a handler touches the getters it
 * needs at module scope, so a missing or malformed variable fails the cold start with a
 * `MissingConfiguration` error that names the variable. Defaults are documented per getter.
 * Tuning of Powertools (`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL`,
 * `POWERTOOLS_METRICS_NAMESPACE`) and SDK endpoints (`AWS_ENDPOINT_URL`) stay with their owners.
 */
import { getNumberFromEnv, getStringFromEnv } from '@aws-lambda-powertools/commons/utils/env';
import {
  type Architecture,
  type ArchitectureSettings,
  DEFAULT_INSTANCE_TYPES,
  parseArchitectures,
} from './core/architectures.js';
import type { CostDeployment } from './core/build-cost.js';
import { costDeploymentOf } from './core/build-times.js';
import { parseDistributionSettings } from './core/distribution.js';
import { HANDLER_POLL_BOUNDS } from './core/poll-bounds.js';
import { parseRolloutSettings } from './core/rollout.js';
import {
  DEFAULT_WEBHOOK_MAX_BODY_BYTES,
  parseRepositoryAllowList,
  type RepositoryAllowList,
} from './core/trigger-guards.js';
import { parseVulnerabilityThreshold, type VulnerabilityThreshold } from './core/vulnerability-gate.js';
import { flag, once, optional, positiveInt, readRequired, required } from './env.js';
import { MissingConfiguration } from './errors.js';
import { readEventBusName } from './event-bus-config.js';
import { PIPELINE_SYNTAX, type PipelineConfig, parsePipelines, withArchitectures } from './pipelines.js';
import { StageName } from './schemas.js';
import { formatIssues } from './validation.js';

/**
 * An SSM name prefix without trailing slash: the variable's value, else `/image-factory/<STAGE>/<leaf>`
 * (stage isolation: two stages in one account never share a parameter).
 */
const stagePrefix = (key: string, leaf: string): string =>
  once(key, () => {
    const value = getStringFromEnv({ key, defaultValue: '' });
    return (value === '' ? `/image-factory/${config.stage}/${leaf}` : value).replace(/\/+$/, '');
  });

export const config = {
  /** `STATE_MACHINE_ARN`: the image-factory state machine (triggers). */
  get stateMachineArn(): string {
    return required('STATE_MACHINE_ARN', 'ARN of the image-factory state machine');
  },
  /**
   * `STAGE` (required where used): the deployed stage. It is the value of the `factory:stage` tag
   * on everything the stack creates, the first part of every promotion ledger key and the second
   * segment of the default SSM prefixes; a stage name is 1-64 letters, digits and '-'.
   */
  get stage(): string {
    return once('STAGE', () => {
      const value = readRequired('STAGE', 'deployment stage of the stack');
      const parsed = StageName.safeParse(value);
      if (!parsed.success)
        throw new MissingConfiguration(`environment variable STAGE: ${formatIssues(parsed.error.issues)}`);
      return parsed.data;
    });
  },
  /** `PROMOTION_LEDGER_TABLE` (required where used): DynamoDB table of promotion leases and build sequences. */
  get promotionLedgerTable(): string {
    return required('PROMOTION_LEDGER_TABLE', 'DynamoDB table of the promotion ledger');
  },
  /**
   * `CHANNEL_PARAMETER_PREFIX` (default `/image-factory/<STAGE>/channels`): channel pointer is
   * `<prefix>/<pipeline>/<channel>`.
   * @throws MissingConfiguration when unset and `STAGE` is unset too.
   */
  get channelParameterPrefix(): string {
    return stagePrefix('CHANNEL_PARAMETER_PREFIX', 'channels');
  },
  /**
   * `LAST_SEEN_PARAMETER_PREFIX` (default `/image-factory/<STAGE>/last-seen`): watcher state,
   * `<prefix>/<pipeline>`.
   * @throws MissingConfiguration when unset and `STAGE` is unset too.
   */
  get lastSeenParameterPrefix(): string {
    return stagePrefix('LAST_SEEN_PARAMETER_PREFIX', 'last-seen');
  },
  /** `DEFAULT_CHANNEL` (default `stable`). */
  get defaultChannel(): string {
    return once('DEFAULT_CHANNEL', () =>
      getStringFromEnv({ key: 'DEFAULT_CHANNEL', defaultValue: 'stable' }),
    );
  },
  /**
   * `PIPELINES` (required for triggers): `pipeline=[imageDefinition@]{baseImage|pipeline:<parent>[/<channel>]}[:channel],…`,
   * see `pipelines.ts` {@link parsePipelines}. Only a successful parse is cached: a malformed value throws on every read.
   */
  get pipelines(): PipelineConfig[] {
    return once('PIPELINES', () =>
      withArchitectures(
        parsePipelines(
          readRequired('PIPELINES', `${PIPELINE_SYNTAX}, comma-separated`),
          config.defaultChannel,
        ),
        config.architectureSettings,
      ),
    );
  },
  /**
   * `ARCHITECTURES` (default '': every pipeline builds x86_64 only): comma-separated
   * `pipeline=<architecture>[+<architecture>]` (`core/architectures.ts` {@link parseArchitectures}).
   */
  get architectureSettings(): ArchitectureSettings {
    return once('ARCHITECTURES', () => {
      try {
        return parseArchitectures(getStringFromEnv({ key: 'ARCHITECTURES', defaultValue: '' }));
      } catch (error) {
        throw new MissingConfiguration(`environment variable ARCHITECTURES ${(error as Error).message}`);
      }
    });
  },
  /**
   * Builder and test instance types per architecture: `BUILDER_INSTANCE_TYPE`,
   * `TEST_INSTANCE_TYPE` (x86_64) and `BUILDER_INSTANCE_TYPE_ARM64`, `TEST_INSTANCE_TYPE_ARM64`,
   * each defaulting to `DEFAULT_INSTANCE_TYPES`. PrepareBuild checks that they run the architecture.
   */
  get instanceTypes(): Record<Architecture, { builder: string; test: string }> {
    return once('INSTANCE_TYPES', () => ({
      x86_64: {
        builder: getStringFromEnv({
          key: 'BUILDER_INSTANCE_TYPE',
          defaultValue: DEFAULT_INSTANCE_TYPES.x86_64.builder,
        }),
        test: config.testInstanceType,
      },
      arm64: {
        builder: getStringFromEnv({
          key: 'BUILDER_INSTANCE_TYPE_ARM64',
          defaultValue: DEFAULT_INSTANCE_TYPES.arm64.builder,
        }),
        test: getStringFromEnv({
          key: 'TEST_INSTANCE_TYPE_ARM64',
          defaultValue: DEFAULT_INSTANCE_TYPES.arm64.test,
        }),
      },
    }));
  },
  /** `SOURCE_BRANCH` (default `main`): the branch whose pushes start a build. */
  get sourceBranch(): string {
    return once('SOURCE_BRANCH', () => getStringFromEnv({ key: 'SOURCE_BRANCH', defaultValue: 'main' }));
  },
  /**
   * `SOURCE_REPOSITORY` (optional): source repository (what the runner fetches and bakes) of builds that name none
   * (base-image and manual builds), `https://…` or `codecommit::<region>://<name>`.
   */
  get sourceRepository(): string | undefined {
    return optional('SOURCE_REPOSITORY');
  },
  /** `GIT_TOKEN_PARAMETER` (optional): SSM SecureString with the token for private HTTPS repositories. */
  get gitTokenParameter(): string | undefined {
    return optional('GIT_TOKEN_PARAMETER');
  },
  /** `CODECOMMIT_REPOSITORY` (optional): only pushes to this repository start a build. */
  get codeCommitRepository(): string | undefined {
    return optional('CODECOMMIT_REPOSITORY');
  },
  /**
   * `ALLOWED_REPOSITORIES` (default empty: no push starts a build): GitHub `owner/name` and
   * CodeCommit repository ARNs whose pushes may start a build (`core/trigger-guards.ts`).
   */
  get allowedRepositories(): RepositoryAllowList {
    return once('ALLOWED_REPOSITORIES', () =>
      parseRepositoryAllowList(getStringFromEnv({ key: 'ALLOWED_REPOSITORIES', defaultValue: '' })),
    );
  },
  /** `WEBHOOK_MAX_BODY_BYTES` (default 1048576): larger webhook deliveries are refused with 413. */
  get webhookMaxBodyBytes(): number {
    return positiveInt('WEBHOOK_MAX_BODY_BYTES', DEFAULT_WEBHOOK_MAX_BODY_BYTES);
  },
  /** `GITHUB_WEBHOOK_SECRET_PARAMETER`: SSM SecureString holding the webhook secret. */
  get githubWebhookSecretParameter(): string {
    return required('GITHUB_WEBHOOK_SECRET_PARAMETER', 'SSM SecureString name of the GitHub webhook secret');
  },
  /** `SLACK_WEBHOOK_PARAMETER`: SSM SecureString holding the Slack incoming-webhook URL. */
  get slackWebhookParameter(): string {
    return required('SLACK_WEBHOOK_PARAMETER', 'SSM SecureString name of the Slack webhook URL');
  },
  /**
   * The sizes the build cost estimate prices (`core/build-times.ts` `costDeploymentOf`, all
   * required here): `LAMBDA_MEMORY_MB`, `BAKE_TASK_CPU`, `BAKE_TASK_MEMORY`,
   * `BAKE_CPU_ARCHITECTURE`, `BUILDER_INSTANCE_TYPE`, `BUILDER_VOLUME_GB`; and
   * {@link config.testInstanceType} (with its default).
   */
  get costDeployment(): CostDeployment {
    return once('BUILD_COST', () => {
      try {
        return costDeploymentOf({ ...process.env, TEST_INSTANCE_TYPE: config.testInstanceType });
      } catch (error) {
        throw new MissingConfiguration(
          `build cost settings: environment variable ${(error as Error).message}`,
        );
      }
    });
  },
  /** `TEST_INSTANCE_TYPE` (default `t3.small`): test instances of x86_64 builds. */
  get testInstanceType(): string {
    return once('TEST_INSTANCE_TYPE', () =>
      getStringFromEnv({ key: 'TEST_INSTANCE_TYPE', defaultValue: DEFAULT_INSTANCE_TYPES.x86_64.test }),
    );
  },
  /** `TEST_INSTANCE_PROFILE`: instance profile name of test instances (needs AmazonSSMManagedInstanceCore). */
  get testInstanceProfile(): string {
    return required('TEST_INSTANCE_PROFILE', 'instance profile name for test instances');
  },
  /** `TEST_SUBNET_ID` (optional): subnet of test instances; default VPC when absent. */
  get testSubnetId(): string | undefined {
    return optional('TEST_SUBNET_ID');
  },
  /** `TEST_SECURITY_GROUP_IDS` (optional): comma-separated security groups of test instances. */
  get testSecurityGroupIds(): string[] {
    return (optional('TEST_SECURITY_GROUP_IDS') ?? '')
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
  },
  /**
   * `PROBE_COMMAND` (default `/usr/local/libexec/image-factory/probe.sh --backend aws`): the probe
   * suite as installed on the image by `packer/build.pkr.hcl`.
   */
  get probeCommand(): string {
    return once('PROBE_COMMAND', () =>
      getStringFromEnv({
        key: 'PROBE_COMMAND',
        defaultValue: '/usr/local/libexec/image-factory/probe.sh --backend aws',
      }),
    );
  },
  /** `PROBE_TIMEOUT_SECONDS` (default 600): how long the probe suite may run, in seconds. */
  get probeTimeoutSeconds(): number {
    return positiveInt('PROBE_TIMEOUT_SECONDS', 600);
  },
  /**
   * `ONLINE_MAX_ATTEMPTS` (default `HANDLER_POLL_BOUNDS.CheckInstanceOnline`, `core/poll-bounds.ts`):
   * checks before `InstanceNeverOnline`. An override must stay below the ASL's `IsInstanceOnline`
   * bound, or the ASL's error (without the handler's detail) is the one reported.
   */
  get onlineMaxAttempts(): number {
    return positiveInt('ONLINE_MAX_ATTEMPTS', HANDLER_POLL_BOUNDS.CheckInstanceOnline);
  },
  /**
   * `PROBE_MAX_ATTEMPTS` (default `HANDLER_POLL_BOUNDS.CheckProbeResult`): result reads before
   * `ProbeTimedOut`. An override must stay below the ASL's `IsProbeComplete` bound.
   */
  get probeMaxAttempts(): number {
    return positiveInt('PROBE_MAX_ATTEMPTS', HANDLER_POLL_BOUNDS.CheckProbeResult);
  },
  /** `RETENTION_MAX_AGE_DAYS` (default 30), in days. */
  get retentionMaxAgeDays(): number {
    return positiveInt('RETENTION_MAX_AGE_DAYS', 30);
  },
  /** `RETENTION_KEEP_LATEST` (default 3). */
  get retentionKeepLatest(): number {
    return positiveInt('RETENTION_KEEP_LATEST', 3);
  },
  /** `RETENTION_DRY_RUN` (default `false`): plan only, deregister nothing. */
  get retentionDryRun(): boolean {
    return flag('RETENTION_DRY_RUN');
  },
  /**
   * `SWEEPER_GRACE_MINUTES` (default 60): the sweeper leaves a resource alone until it is this many
   * minutes old (a security group: until its execution stopped this many minutes ago). 0 is allowed.
   */
  get sweeperGraceMinutes(): number {
    return once('SWEEPER_GRACE_MINUTES', () => {
      const value = getNumberFromEnv({ key: 'SWEEPER_GRACE_MINUTES', defaultValue: 60 });
      if (!Number.isInteger(value) || value < 0) {
        throw new MissingConfiguration(
          `environment variable SWEEPER_GRACE_MINUTES must be a whole number of minutes ≥ 0, got "${process.env.SWEEPER_GRACE_MINUTES}"`,
        );
      }
      return value;
    });
  },
  /** `SWEEPER_DRY_RUN` (default `false`): the sweeper reports what it would remove and removes nothing. */
  get sweeperDryRun(): boolean {
    return flag('SWEEPER_DRY_RUN');
  },
  /** `RETENTION_RECENT_LAUNCH_DAYS` (default 7): images launched within this many days are kept. */
  get retentionRecentLaunchDays(): number {
    return positiveInt('RETENTION_RECENT_LAUNCH_DAYS', 7);
  },
  /** `RETENTION_CONCURRENCY` (default 8): most EC2 calls retention has in flight at once. */
  get retentionConcurrency(): number {
    return positiveInt('RETENTION_CONCURRENCY', 8);
  },
  /**
   * `ALERTING` (default `incident-manager` when `INCIDENT_RESPONSE_PLAN_ARN` is set, else `none`):
   * where `OpenIncident` raises a failure — an Incident Manager incident, an OpsCenter OpsItem, or
   * nowhere but Slack.
   */
  get alerting(): 'incident-manager' | 'opscenter' | undefined {
    return once('ALERTING', () => {
      const value = getStringFromEnv({ key: 'ALERTING', defaultValue: '' });
      if (value === '') return config.incidentResponsePlanArn ? 'incident-manager' : undefined;
      if (value === 'none') return undefined;
      if (value === 'incident-manager' || value === 'opscenter') return value;
      throw new MissingConfiguration(
        `environment variable ALERTING must be "none", "incident-manager" or "opscenter", got "${value}"`,
      );
    });
  },
  /** `INCIDENT_RESPONSE_PLAN_ARN` (optional): when set, failures open an incident. */
  get incidentResponsePlanArn(): string | undefined {
    return optional('INCIDENT_RESPONSE_PLAN_ARN');
  },
  /** `EVENT_BUS_NAME` (default `default`): the bus of the factory's events, see `event-bus-config.ts`. */
  get eventBusName(): string {
    return once('EVENT_BUS_NAME', readEventBusName);
  },
  /**
   * `DISTRIBUTION` (default '': no pipeline distributes beyond the stack's region): a JSON object
   * keyed by pipeline name, each entry `{ regions, kmsKeys, shareWith, onRegionFailure }`
   * (`core/distribution.ts`). Only the JSON shape is checked here; PrepareBuild checks the build's entry.
   */
  get distributionSettings(): Record<string, unknown> {
    return once('DISTRIBUTION', () => {
      try {
        return parseDistributionSettings(getStringFromEnv({ key: 'DISTRIBUTION', defaultValue: '' }));
      } catch (error) {
        throw new MissingConfiguration(`environment variable DISTRIBUTION ${(error as Error).message}`);
      }
    });
  },
  /**
   * `ROLLOUT` (default '': no channel rolls out): a JSON object keyed by `<pipeline>/<channel>`,
   * each entry `{ minHealthyPercentage, maxHealthyPercentage, instanceWarmupSeconds }`, all
   * optional (`core/rollout.ts`). Keys and shape are checked here; PrepareBuild checks the build's entry.
   */
  get rolloutSettings(): Record<string, unknown> {
    return once('ROLLOUT', () => {
      try {
        return parseRolloutSettings(getStringFromEnv({ key: 'ROLLOUT', defaultValue: '' }));
      } catch (error) {
        throw new MissingConfiguration(`environment variable ROLLOUT ${(error as Error).message}`);
      }
    });
  },
  /**
   * `VULNERABILITY_THRESHOLD` (default `CRITICAL`): the least severity of a finding that blocks a
   * promotion at InspectCandidate; `NONE` never blocks (`core/vulnerability-gate.ts`).
   */
  get vulnerabilityThreshold(): VulnerabilityThreshold {
    return once('VULNERABILITY_THRESHOLD', () => {
      try {
        return parseVulnerabilityThreshold(
          getStringFromEnv({ key: 'VULNERABILITY_THRESHOLD', defaultValue: '' }),
        );
      } catch (error) {
        throw new MissingConfiguration(
          `environment variable VULNERABILITY_THRESHOLD ${(error as Error).message}`,
        );
      }
    });
  },
  /** `SBOM_BUCKET` (required where used): the S3 bucket of the images' SBOMs (`sboms/<pipeline>/<buildId>.cdx.json`). */
  get sbomBucket(): string {
    return required('SBOM_BUCKET', 'S3 bucket of the image SBOMs');
  },
  /** `AWS_REGION` (set by Lambda). */
  get region(): string {
    return required('AWS_REGION', 'AWS region, set by the Lambda runtime');
  },
};
