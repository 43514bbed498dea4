/** In-memory port implementations for step tests (they record every call). */

import type { FactoryEvent } from '#commons/core/events.js';
import { promotionLeaseKey } from '#commons/core/promotion-lease.js';
import type { CycloneDxDocument } from '#commons/core/sbom.js';
import type { ExecutionFacts, Leftover } from '#commons/core/sweep.js';
import { EventPublishFailed, PromotionLeaseHeld, SbomUnreadable } from '#commons/errors.js';
import type {
  ChannelPointer,
  ChannelPosition,
  CommandResult,
  CommandRunner,
  EventPublisher,
  ExecutionStatusReader,
  ImageRecord,
  ImageStore,
  IncidentReporter,
  IncidentRequest,
  LaunchRequest,
  LeftoverStore,
  MachineLauncher,
  Notification,
  Notifier,
  PromotionLease,
  PromotionLedger,
  SbomStore,
  ScanOutcome,
  SnapshotOutcome,
  SourceImage,
  SourceImageResolver,
  VulnerabilityScanner,
} from '#commons/ports.js';

/** A copy of an image record (what a describe call returns: later changes to the store do not show). */
const copyImage = (image: ImageRecord): ImageRecord => ({
  ...image,
  tags: { ...image.tags },
  snapshotIds: [...image.snapshotIds],
});

export class MemoryImageStore implements ImageStore {
  readonly deregistered: string[] = [];
  readonly failing = new Set<string>();
  inUse: string[] = [];
  constructor(public images: ImageRecord[] = []) {}
  async findImages(tags: Record<string, string>) {
    const wanted = Object.entries(tags);
    return this.images.filter((image) => wanted.every(([k, v]) => image.tags[k] === v)).map(copyImage);
  }
  async getImage(imageId: string) {
    const image = this.images.find((candidate) => candidate.imageId === imageId);
    return image ? copyImage(image) : undefined;
  }
  async tagImage(imageId: string, tags: Record<string, string>) {
    const image = this.images.find((candidate) => candidate.imageId === imageId);
    if (!image) throw new Error(`no image ${imageId}`);
    Object.assign(image.tags, tags);
  }
  async imagesInUse(imageIds: readonly string[]) {
    return imageIds.filter((id) => this.inUse.includes(id));
  }
  referencedByParameters: string[] = [];
  shared = new Map<string, string[]>();
  async imagesReferencedByParameters(imageIds: readonly string[]) {
    return imageIds.filter((id) => this.referencedByParameters.includes(id));
  }
  async sharedWith(imageId: string) {
    return this.shared.get(imageId) ?? [];
  }
  async deregisterImage(imageId: string): Promise<SnapshotOutcome[]> {
    if (this.failing.has(imageId))
      throw Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' });
    const image = this.images.find((candidate) => candidate.imageId === imageId);
    this.images = this.images.filter((candidate) => candidate.imageId !== imageId);
    this.deregistered.push(imageId);
    return (image?.snapshotIds ?? []).map((snapshotId) => ({ snapshotId, outcome: 'deleted' as const }));
  }
}

export class MemoryChannelPointer implements ChannelPointer {
  readonly positions = new Map<string, ChannelPosition[]>();
  async current(pipeline: string, channel: string) {
    return this.positions.get(`${pipeline}/${channel}`)?.[0];
  }
  async point(pipeline: string, channel: string, imageId: string) {
    const key = `${pipeline}/${channel}`;
    const list = this.positions.get(key) ?? [];
    const position = { imageId, version: list.length + 1, location: `/channels/${key}` };
    this.positions.set(key, [position, ...list]);
    return position;
  }
  async history(pipeline: string, channel: string) {
    return this.positions.get(`${pipeline}/${channel}`) ?? [];
  }
  async channels(pipeline: string) {
    return [...this.positions.keys()]
      .filter((key) => key.startsWith(`${pipeline}/`))
      .map((key) => key.slice(pipeline.length + 1));
  }
}

export class MemoryLauncher implements MachineLauncher {
  readonly launches: LaunchRequest[] = [];
  readonly terminated: string[] = [];
  ready = new Set<string>();
  live = new Map<string, string>(); // instanceId → buildId
  async launch(request: LaunchRequest) {
    const instanceId = `i-${String(this.launches.length + 1).padStart(17, '0')}`;
    this.launches.push(request);
    this.live.set(instanceId, request.buildId);
    return { instanceId };
  }
  async isReady(instanceId: string) {
    return this.ready.has(instanceId);
  }
  async terminate(instanceIds: readonly string[]) {
    const known = instanceIds.filter((id) => this.live.has(id));
    for (const id of known) this.live.delete(id);
    this.terminated.push(...known);
    return known;
  }
  async listByBuildId(buildId: string) {
    return [...this.live].filter(([, build]) => build === buildId).map(([id]) => id);
  }
}

export class ScriptedRunner implements CommandRunner {
  readonly started: Array<{ instanceId: string; timeoutSeconds: number }> = [];
  constructor(public results: CommandResult[] = []) {}
  async startProbe(instanceId: string, options: { timeoutSeconds: number; buildId: string }) {
    this.started.push({ instanceId, timeoutSeconds: options.timeoutSeconds });
    return { commandId: 'cmd-1' };
  }
  async readProbe() {
    const next = this.results.shift();
    if (!next) throw new Error('no scripted result left');
    return next;
  }
}

/** Records every published event; `failing` > 0 makes that many publications throw (nothing recorded). */
export class RecordingEventPublisher implements EventPublisher {
  readonly origin = { stage: 'test', region: 'us-east-1' };
  readonly published: FactoryEvent[] = [];
  failing = 0;
  async publish(events: readonly FactoryEvent[]) {
    if (this.failing > 0) {
      this.failing -= 1;
      throw new EventPublishFailed('EventBridge did not accept 1 of 1 event(s): InternalFailure');
    }
    this.published.push(...events);
  }
}

export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async notify(notification: Notification) {
    this.sent.push(notification);
  }
}

export class RecordingIncidents implements IncidentReporter {
  readonly opened: IncidentRequest[] = [];
  async open(request: IncidentRequest) {
    this.opened.push(request);
    return {
      incidentArn: `arn:aws:ssm-incidents::123456789012:incident-record/plan/${request.clientToken}`,
      deduplicated: false,
    };
  }
}

export class StaticSources implements SourceImageResolver {
  constructor(private readonly images: Record<string, SourceImage & { baseImage?: string }>) {}
  /** The image of `baseImage` and `architecture` (an image without `architecture` is x86_64). */
  async resolve(baseImage: string, architecture = 'x86_64') {
    const found = Object.values(this.images).find(
      (image) => image.baseImage === baseImage && (image.architecture ?? 'x86_64') === architecture,
    );
    if (!found) throw new Error(`no ${architecture} source for ${baseImage}`);
    return found;
  }
  async describe(imageId: string) {
    return this.images[imageId];
  }
}

/** Leftovers in memory: `remove` deletes them; `failures` scripts errors per id (consumed in order). */
export class MemoryLeftoverStore implements LeftoverStore {
  readonly removed: string[] = [];
  readonly failures = new Map<string, Error[]>();
  constructor(public resources: Leftover[] = []) {}
  async list() {
    return structuredClone(this.resources);
  }
  async remove(resource: Leftover) {
    const failure = this.failures.get(resource.id)?.shift();
    if (failure) throw failure;
    const found = this.resources.some((r) => r.id === resource.id);
    this.resources = this.resources.filter((r) => r.id !== resource.id);
    if (!found) return { outcome: 'gone' as const, snapshots: [] };
    this.removed.push(resource.id);
    const snapshots = (resource.snapshotIds ?? []).map((snapshotId) => ({
      snapshotId,
      outcome: 'deleted' as const,
    }));
    return { outcome: 'removed' as const, snapshots };
  }
}

/** Execution statuses by ARN; an ARN missing here does not exist. */
export class MemoryExecutions implements ExecutionStatusReader {
  readonly asked: string[] = [];
  constructor(public facts = new Map<string, ExecutionFacts | Error>()) {}
  async describe(executionArn: string): Promise<ExecutionFacts> {
    this.asked.push(executionArn);
    const facts = this.facts.get(executionArn);
    if (facts instanceof Error) throw facts;
    return facts ?? { status: 'NOT_FOUND' };
  }
}

/** The promotion ledger in memory, with the conditional semantics of the DynamoDB one. */
export class MemoryPromotionLedger implements PromotionLedger {
  readonly leases = new Map<string, PromotionLease>();
  readonly sequences = new Map<string, number>();
  readonly released: string[] = [];
  constructor(
    public now: () => Date = () => new Date('2026-01-01T12:00:00Z'),
    private readonly stage = 'test',
  ) {}
  async nextSequence(pipeline: string) {
    const next = (this.sequences.get(pipeline) ?? 0) + 1;
    this.sequences.set(pipeline, next);
    return next;
  }
  async acquire(pipeline: string, channel: string, holder: string, ttlSeconds: number) {
    const key = promotionLeaseKey(this.stage, pipeline, channel);
    const held = this.leases.get(key);
    if (held && held.holder !== holder && Date.parse(held.expiresAt) > this.now().getTime()) {
      throw new PromotionLeaseHeld(key, held.holder, held.expiresAt);
    }
    const lease = {
      key,
      holder,
      expiresAt: new Date(this.now().getTime() + ttlSeconds * 1000).toISOString(),
    };
    this.leases.set(key, lease);
    return { ...lease };
  }
  async release(pipeline: string, channel: string, holder: string) {
    const key = promotionLeaseKey(this.stage, pipeline, channel);
    if (this.leases.get(key)?.holder !== holder) return false;
    this.leases.delete(key);
    this.released.push(`${key} ${holder}`);
    return true;
  }
}

/** SBOMs by URI; an unknown URI is unreadable, as a missing S3 object or file is. */
export class MemorySbomStore implements SbomStore {
  readonly reads: string[] = [];
  constructor(readonly documents: Map<string, string> = new Map()) {}
  async read(uri: string): Promise<string> {
    this.reads.push(uri);
    const text = this.documents.get(uri);
    if (text === undefined) throw new SbomUnreadable(uri, 'NoSuchKey: the object does not exist');
    return text;
  }
}

/** A scanner answering a fixed outcome (or throwing `error`), recording the SBOMs it was given. */
export class ScriptedScanner implements VulnerabilityScanner {
  readonly scanned: CycloneDxDocument[] = [];
  constructor(
    readonly name: 'inspector' | 'none',
    private readonly answer: ScanOutcome | Error,
  ) {}
  async scan(sbom: CycloneDxDocument): Promise<ScanOutcome> {
    this.scanned.push(sbom);
    if (this.answer instanceof Error) throw this.answer;
    return structuredClone(this.answer);
  }
}
