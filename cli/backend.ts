/**
 * What a command needs from a backend: the AWS stack of a stage and region (`aws-backend.ts`) or
 * the local catalog (`local-backend.ts`). Both give the pipeline's own ports, so promotion,
 * rollback and retention run the same steps as the pipeline.
 */
import type { ExecutionInput } from '#commons/execution-input.js';
import type {
  ChannelPointer,
  EventPublisher,
  ImageStore,
  PromotionLedger,
  SbomStore,
  SourceImageResolver,
} from '#commons/ports.js';
import type { SweepReport } from '#commons/steps/sweep-leftovers.js';

/** One execution as `status` and `list` show it. Times are ISO 8601, durations seconds. */
export interface ExecutionSummary {
  name: string;
  arn?: string;
  /** `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`, `TIMED_OUT`, `PENDING_REDRIVE`. */
  status: string;
  pipeline?: string;
  channel?: string;
  startedAt?: string;
  stoppedAt?: string;
  /** From start to stop, or to now while it runs. */
  seconds?: number;
  /** The state it failed in (`history.ts` `failingState`). */
  failingState?: string;
  error?: string;
  cause?: string;
  /** Time per state, in order of first entry (`status` only). */
  states?: Array<{ state: string; seconds: number; entries: number }>;
  /** The execution in the console (AWS). */
  link?: string;
  /** The image the execution promoted (else its candidate), from its output (`status`, AWS). */
  imageId?: string;
  /** That image in the EC2 console (AWS). */
  imageLink?: string;
  /**
   * The estimated cost at list prices (`functions/commons/core/build-cost.ts`, USD) from the
   * history (`status`, AWS); `unpriced` lists instance types without a list price (then the
   * total is a lower bound).
   */
  cost?: { total: number; items: Record<string, number>; unpriced: string[] };
  /** Why there is no {@link cost}: a local run, or the deployment's sizes could not be read. */
  costNote?: string;
  /**
   * From the execution's `$.inspection` (InspectCandidate), as the build report words them
   * (`functions/commons/report.ts` `inspectionFields`): the package diff against the channel's
   * previous image and the vulnerability gate's verdict.
   */
  packages?: string;
  vulnerabilities?: string;
}

/** The pipeline's ports the commands use. */
export interface CommandPorts {
  images: ImageStore;
  pointer: ChannelPointer;
  ledger: PromotionLedger;
  sources: SourceImageResolver;
  /** The stage's events (`promote`, `rollback` publish as the pipeline does). */
  events: EventPublisher;
  /** The images' SBOMs (`factory diff`): the stack's SBOM bucket, or the local catalog. */
  sboms: SbomStore;
}

/** Retention as the stage applies it (`ApplyRetention`'s settings). */
export interface RetentionSettings {
  maxAgeDays: number;
  keepLatest: number;
  recentLaunchDays: number;
  /** The stage's default channel (always among the channels retention reads). */
  defaultChannel: string;
}

/** How `start` follows an execution. */
export interface StartOptions {
  follow: boolean;
  /** Milliseconds between history reads. */
  pollMs: number;
  /** Progress lines. */
  write: (text: string) => void;
  /** Stops following (AWS: the execution keeps running) or the run (local: cleaned up). */
  signal: AbortSignal;
  /** Shows the running state while following (a terminal spinner), when given. */
  spinner?: Spinner | undefined;
}

/** A progress indicator for the running state (ora in a terminal). */
export interface Spinner {
  update(text: string): void;
  /** Runs `write` with the indicator cleared, then shows it again. */
  around(write: () => void): void;
  stop(): void;
}

export interface Backend {
  readonly kind: 'aws' | 'local';
  /** For messages: `stack golden-image-factory-dev in us-east-1`, `local catalog /…/.factory/catalog`. */
  readonly where: string;
  /** AWS region, or `local`. */
  readonly region: string;
  /**
   * The stage whose images, leftovers and retention the commands see (`factory:stage`): the
   * stack's `Stage` output on AWS, undefined locally (local images carry no stage tag).
   */
  readonly stage: string | undefined;
  /** The stage's pipelines (AWS: `PIPELINES` of the stack; local: those with images or channels). */
  pipelines(): Promise<string[]>;
  ports(): CommandPorts;
  /** Who holds a lease the CLI takes: `factory-cli:<user>@<host>:<pid>`. */
  readonly holder: string;
  retentionSettings(): Promise<RetentionSettings>;
  /** Recent executions, newest first, at most `limit`. */
  executions(options: { limit: number; pipeline?: string | undefined }): Promise<ExecutionSummary[]>;
  /** One execution by name (or ARN); the newest when none is given. */
  execution(reference?: string): Promise<ExecutionSummary>;
  /** Start (and follow) an execution of a validated input. */
  start(input: ExecutionInput, options: StartOptions): Promise<ExecutionSummary>;
  /** The sweeper's plan (dry run: removes nothing). */
  sweepPlan(): Promise<SweepReport>;
  /** Release clients. */
  close(): void;
}
