/**
 * Ports: the small, backend-neutral interfaces the steps are written against.
 *
 * The AWS backend implements them in `functions/commons/aws/` (EC2, SSM, Slack); the local backend
 * in `local/` (file catalog, qemu, guest agent, terminal). Keep them free of SDK types.
 * All times are ISO 8601 strings; all durations are seconds.
 */
import type { Architecture } from './core/architectures.js';
import type { ShareTargets } from './core/distribution.js';
import type { EventOrigin, FactoryEvent } from './core/events.js';
import type { StateRun } from './core/execution-history.js';
import type { CycloneDxDocument } from './core/sbom.js';
import type { ExecutionFacts, Leftover } from './core/sweep.js';

/** A machine image (an AMI on AWS, a qcow2 + catalog entry locally). */
export interface ImageRecord {
  imageId: string;
  name: string;
  /** ISO 8601 creation time. */
  createdAt: string;
  /** All tags, including the `factory:*` ownership tags. */
  tags: Record<string, string>;
  /** Backing snapshot ids (EBS snapshots on AWS; empty locally if not applicable). */
  snapshotIds: string[];
  /** ISO 8601 time the image last launched an instance (EC2 `LastLaunchedTime`), when known. */
  lastLaunchedAt?: string | undefined;
  /** True when anyone may launch the image (EC2 `Public`). */
  public?: boolean | undefined;
  /** CPU architecture (EC2 `Architecture`: `x86_64`, `arm64`, …), when the backend records one. */
  architecture?: string | undefined;
}

/** Result of deleting one backing snapshot together with its image. */
export interface SnapshotOutcome {
  snapshotId: string;
  outcome: 'deleted' | 'skipped' | 'failed';
  /** Backend's own code or message, e.g. EC2's `missing-permissions`. */
  detail?: string;
}

export interface ImageStore {
  /**
   * Available images owned by this account/catalog that carry *every* given tag (exact values).
   * Implementations page through all results.
   */
  findImages(tags: Record<string, string>): Promise<ImageRecord[]>;
  /** One image by id, or undefined when it does not exist (or is not ours). */
  getImage(imageId: string): Promise<ImageRecord | undefined>;
  /** Add or overwrite tags. */
  tagImage(imageId: string, tags: Record<string, string>): Promise<void>;
  /** The subset of `imageIds` currently referenced by running machines or launch configuration. */
  imagesInUse(imageIds: readonly string[]): Promise<string[]>;
  /** Deregister the image and delete its snapshots; reports each snapshot's outcome. */
  deregisterImage(imageId: string): Promise<SnapshotOutcome[]>;
  /** The subset of `imageIds` that a parameter (SSM Parameter Store on AWS) names. */
  imagesReferencedByParameters(imageIds: readonly string[]): Promise<string[]>;
  /**
   * Who besides the owner may launch the image: account ids, organization / OU ARNs, or `all`
   * (public). Empty when the image is private or does not exist.
   */
  sharedWith(imageId: string): Promise<string[]>;
}

/** One position of a channel pointer. */
export interface ChannelPosition {
  imageId: string;
  /** Monotonic version of the pointer (SSM parameter version on AWS). */
  version: number;
  /** Where the pointer lives: SSM parameter name on AWS, file path locally. */
  location: string;
  /** ISO 8601 time of this position, when known. */
  updatedAt?: string;
}

/** The "which image is current for pipeline/channel" pointer, with its history for rollback. */
export interface ChannelPointer {
  /** Current position, or undefined when the channel was never promoted. */
  current(pipeline: string, channel: string): Promise<ChannelPosition | undefined>;
  /** Point the channel at `imageId`; returns the new position. */
  point(pipeline: string, channel: string, imageId: string): Promise<ChannelPosition>;
  /** Every recorded position, newest first (the rollback trail). */
  history(pipeline: string, channel: string): Promise<ChannelPosition[]>;
  /** Names of every channel of `pipeline` that has a pointer (any order). */
  channels(pipeline: string): Promise<string[]>;
}

/** A granted promotion lease: `holder` alone may promote the channel until `expiresAt`. */
export interface PromotionLease {
  /** `<stage>#<pipeline>#<channel>`. */
  key: string;
  /** Who holds it (the execution name). */
  holder: string;
  /** ISO 8601 time the lease lapses unless released earlier. */
  expiresAt: string;
}

/**
 * One promotion at a time per (stage, pipeline, channel), and the pipeline's build sequence
 * (DynamoDB conditional writes on AWS, lock files in the catalog locally). The stage is the
 * implementation's own (one ledger per deployed stage).
 */
export interface PromotionLedger {
  /** The next number of the pipeline's build sequence: 1, 2, …, each handed out once. */
  nextSequence(pipeline: string): Promise<number>;
  /**
   * Take the channel's lease for `holder` for `ttlSeconds`. A lapsed lease (its expiry passed,
   * whether or not the backend has removed it) is taken over; the same holder taking it again
   * extends it.
   * @throws PromotionLeaseHeld when another holder's lease has not lapsed.
   */
  acquire(pipeline: string, channel: string, holder: string, ttlSeconds: number): Promise<PromotionLease>;
  /**
   * Give the lease back if `holder` holds it.
   * @returns true when released, false when `holder` did not hold it (lapsed and taken, or never).
   */
  release(pipeline: string, channel: string, holder: string): Promise<boolean>;
}

export interface LaunchRequest {
  imageId: string;
  pipeline: string;
  /** The build's architecture (tagged `factory:architecture`); default x86_64. */
  architecture?: Architecture | undefined;
  /** The build's test instance type (`$.build.instanceTypes.test`); default: the backend's own. */
  instanceType?: string | undefined;
  buildId: string;
  executionName: string;
  /** Idempotency token (≤ 64 ASCII chars): a retried launch with the same token launches nothing new. */
  idempotencyToken: string;
}

/** Boots and disposes of test machines. */
export interface MachineLauncher {
  /** Launch one test machine tagged with the pipeline and build id. */
  launch(request: LaunchRequest): Promise<{ instanceId: string }>;
  /** True once the machine can accept commands (SSM agent Online / guest agent answering). */
  isReady(instanceId: string): Promise<boolean>;
  /** Terminate machines; returns the ids whose termination was requested. Unknown ids are not an error. */
  terminate(instanceIds: readonly string[]): Promise<string[]>;
  /** Ids of not-yet-terminated test machines tagged with `buildId`. */
  listByBuildId(buildId: string): Promise<string[]>;
}

export type CommandStatus = 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut';

export interface CommandResult {
  status: CommandStatus;
  /** Exit code once finished; undefined while running or when the backend does not know it. */
  exitCode?: number;
  stdout: string;
  stderr: string;
}

/** Runs the probe suite on a test machine. */
export interface CommandRunner {
  /**
   * Start the probe suite asynchronously.
   * @param timeoutSeconds execution timeout of the suite on the machine.
   */
  startProbe(
    instanceId: string,
    options: { timeoutSeconds: number; buildId: string },
  ): Promise<{ commandId: string }>;
  /**
   * Current state of a started probe.
   * @throws InvocationDoesNotExist while the backend has not registered the invocation yet.
   */
  readProbe(commandId: string, instanceId: string): Promise<CommandResult>;
}

/** A backend-neutral pipeline report; the Slack notifier renders it as Block Kit. */
export interface Notification {
  outcome: 'success' | 'failure';
  /** One-line headline, also the plain-text fallback. */
  title: string;
  fields: Array<{ label: string; value: string }>;
  /** Longer text (e.g. the failure cause), optional. */
  detail?: string;
  /** Console links (the execution, the image): buttons in Slack; none on the local backend. */
  links?: Array<{ label: string; url: string }>;
}

/** The states an execution has run so far, for the report's time per state and cost estimate. */
export interface ExecutionHistory {
  /**
   * @param executionArn the execution (`$$.Execution.Id`, recorded by PrepareBuild as `build.executionArn`).
   * @returns its state runs in order (`core/execution-history.ts`) and its start, epoch ms.
   * @throws the backend's error when the history cannot be read (the report then goes out without it).
   */
  runsOf(executionArn: string): Promise<{ runs: StateRun[]; startedAt?: number | undefined }>;
}

export interface Notifier {
  /** Deliver the report. @throws SlackDeliveryFailed (or the backend's equivalent) when it cannot. */
  notify(notification: Notification): Promise<void>;
}

/** A source image as published by its vendor. */
export interface SourceImage {
  imageId: string;
  name: string;
  /** Owning account id. */
  ownerId: string | undefined;
  /** Owner alias (e.g. `amazon`), when the publisher has one. */
  ownerAlias?: string | undefined;
  /** ISO 8601 creation time of the source image, when the backend knows it. */
  createdAt?: string | undefined;
  /** CPU architecture (EC2 `Architecture`), when the backend knows it. */
  architecture?: string | undefined;
}

/** Resolves a catalog base image to its current source image (public SSM parameter on AWS). */
export interface SourceImageResolver {
  /**
   * Current source image id and metadata for a catalog base image, of `architecture` (the vendor
   * publishes one parameter per architecture; default x86_64).
   */
  resolve(baseImage: string, architecture?: Architecture): Promise<SourceImage>;
  /** Metadata of a given source image id, or undefined when it does not exist. */
  describe(imageId: string): Promise<SourceImage | undefined>;
}

/** Resolves a branch of a source repository (the one the runner bakes) to the commit at its head. */
export interface SourceRevisionResolver {
  /**
   * @param repository a repository URL (`https://…` or `codecommit::<region>://<name>`).
   * @returns the 40-hex commit id at the head of `branch`.
   */
  headOf(repository: string, branch: string): Promise<string>;
}

export interface IncidentRequest {
  /** Incident Manager response plan (Incident Manager only). */
  responsePlanArn?: string | undefined;
  /**
   * One open incident per key: a failure whose key has an open incident is added to it instead of
   * opening another (`image-factory:<state machine>:<pipeline>:<failing state>`, at most 64 chars).
   */
  dedupKey: string;
  title: string;
  /** Idempotency token; the execution name, so a retried task opens one incident. */
  clientToken: string;
  /** Impact 1 (critical) … 5 (no impact). */
  impact: 1 | 2 | 3 | 4 | 5;
  detail: string;
  /** Deep link, e.g. the execution in the console. */
  link?: string;
}

/** Opens an incident (SSM Incident Manager or an OpsCenter OpsItem on AWS). */
export interface IncidentReporter {
  /**
   * @returns the ARN of the incident record or OpsItem that now carries the failure, and whether
   *   it was already open (the failure was added to it).
   */
  open(request: IncidentRequest): Promise<{ incidentArn: string; deduplicated: boolean }>;
}

/**
 * What builds leave behind: builder and test instances, Packer's temporary security groups and key
 * pairs, candidate images (EC2 on AWS). Shapes are the sweeper core's (`core/sweep.ts`).
 */
export interface LeftoverStore {
  /**
   * Every instance tagged `factory:role=build-instance|test-instance` that is not terminated,
   * every security group and key pair tagged `factory:role=build-instance`, and every own image
   * tagged `factory:channel=candidate` (any state). Untagged resources are never listed.
   */
  list(): Promise<Leftover[]>;
  /**
   * Remove one: terminate an instance, delete a security group or key pair, deregister an image
   * with its snapshots. `gone` when it no longer exists (re-runs converge).
   * @throws the backend's error otherwise, e.g. EC2 `DependencyViolation` for a security group
   *   an instance still uses.
   */
  remove(resource: Leftover): Promise<{ outcome: 'removed' | 'gone'; snapshots: SnapshotOutcome[] }>;
}

/** Reads a Step Functions execution's status (for the sweeper). */
export interface ExecutionStatusReader {
  /** The status and stop time; `NOT_FOUND` when the execution does not exist (any more). */
  describe(executionArn: string): Promise<ExecutionFacts>;
}

/**
 * Publishes the factory's events for consumers (`core/events.ts`): EventBridge `PutEvents` on AWS,
 * a JSON-lines event log in the catalog locally. Steps publish after the state they report is
 * written (the pointer moved), so a retried step publishes again: delivery is at least once.
 */
export interface EventPublisher {
  /** The stage and region the events are published from (they go into every detail). */
  readonly origin: EventOrigin;
  /**
   * Publish every event, or throw.
   * @throws EventPublishFailed when any event was not accepted (nothing is retried here: the
   *   caller's retry publishes them again).
   */
  publish(events: readonly FactoryEvent[]): Promise<void>;
}

/** A copy request of {@link ImageDistributor.copy}. */
export interface CopyRequest {
  /** The candidate, in `sourceRegion`. */
  sourceImageId: string;
  sourceRegion: string;
  /** Destination region. */
  region: string;
  /** Name of the copy (unique per region and account). */
  name: string;
  /** KMS key ARN of the copy's snapshots, or null: the region's default EBS key. */
  kmsKeyId: string | null;
  /** Idempotency token (≤ 64 ASCII characters): a retried copy makes nothing new. */
  clientToken: string;
  /**
   * Tags of the copy's snapshots, set by the copying call (the image gets the source's tags):
   * the ownership tags besides the stage, which the backend adds.
   */
  snapshotTags: Record<string, string>;
}

/**
 * Copies an image to other regions and shares it (EC2 `CopyImage`, `ModifyImageAttribute`,
 * `ModifySnapshotAttribute` on AWS, each in the region named; the local backend has one region).
 */
export interface ImageDistributor {
  /** Start a copy; its user-defined tags are copied with it. @returns the copy's image id. */
  copy(request: CopyRequest): Promise<{ imageId: string }>;
  /**
   * The copy's state (`pending`, `available`, `failed`, …; `missing` when it does not exist) and
   * its snapshots once known.
   */
  describe(region: string, imageId: string): Promise<{ state: string; snapshotIds: string[] }>;
  /**
   * Grant launch permissions on the image (accounts, organization and OU ARNs) and create-volume
   * permissions on its snapshots (accounts only: the API has no organization target). Granting
   * what is already granted is a no-op.
   */
  share(
    region: string,
    imageId: string,
    snapshotIds: readonly string[],
    targets: ShareTargets,
  ): Promise<void>;
}

/** The ports of one region: its images and its channel pointers (each region has its own). */
export interface RegionalPorts {
  images(region: string): ImageStore;
  pointer(region: string): ChannelPointer;
  /** The event publisher whose origin is `region` (events carry the region they report). */
  events(region: string): EventPublisher;
}

/** The outcome of asking a group to refresh its instances. */
export type RefreshStart =
  | { outcome: 'started'; instanceRefreshId: string }
  /** The group already had an active refresh (`InstanceRefreshInProgress` on AWS). */
  | { outcome: 'in-progress'; detail: string };

/**
 * The Auto Scaling groups that consume a channel (EC2 Auto Scaling on AWS, each call in the region
 * named; the local backend has none).
 */
export interface ScalingGroups {
  /** Names of the groups in `region` tagged `key` = `value` (exact value). */
  findTagged(region: string, key: string, value: string): Promise<string[]>;
  /**
   * Start an instance refresh of the group with these preferences (never skip matching: the
   * launch template does not change when a channel moves).
   * @throws the backend's error for any refusal other than a refresh already in progress.
   */
  startRefresh(
    region: string,
    group: string,
    preferences: { MinHealthyPercentage?: number; MaxHealthyPercentage?: number; InstanceWarmup?: number },
  ): Promise<RefreshStart>;
}

/**
 * Where images' SBOMs are stored (the `factory:sbom` tag's URI, `core/tags.ts`): S3 on AWS
 * (`s3://<bucket>/sboms/…`), the local catalog locally (`file://<absolute path>` inside it).
 */
export interface SbomStore {
  /**
   * The SBOM's text.
   * @throws SbomUnreadable when the URI is not one this store reads (another scheme, a bucket or
   *   path outside its own) or the object cannot be read (missing, denied).
   */
  read(uri: string): Promise<string>;
}

/** What a {@link VulnerabilityScanner} reports. */
export type ScanOutcome =
  /** `report`: the scanner's CycloneDX 1.5 vulnerability report (`core/vulnerability-gate.ts`). */
  | { scanned: true; report: unknown }
  /** No scan happened; `reason` says why (e.g. the local backend has no vulnerability database). */
  | { scanned: false; reason: string };

/** Scans an SBOM for known vulnerabilities (Amazon Inspector `ScanSbom` on AWS; none locally). */
export interface VulnerabilityScanner {
  /** `inspector` or `none`: reported with the inspection. */
  readonly name: 'inspector' | 'none';
  /**
   * @param sbom a CycloneDX 1.5 document (at most `SCAN_SBOM_MAX_COMPONENTS` components: the
   *   caller checks).
   * @throws the backend's error (Inspector: AccessDeniedException, InternalServerException,
   *   ValidationException; ThrottlingException after the SDK's own retries).
   */
  scan(sbom: CycloneDxDocument): Promise<ScanOutcome>;
}
