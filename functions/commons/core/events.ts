/**
 * The factory's events for consumers: `Image Promoted`, `Image Rolled Back`, `Build Failed` and
 * `Build Superseded`, built here from what the steps know. Pure: no AWS or filesystem imports.
 *
 * Each event's detail is defined by a JSON Schema under `schemas/events/` (draft 2020-12,
 * `additionalProperties: false`); `tests/unit/core/events.test.ts` validates every built event
 * against it. Every key of a detail is always present: a field that does not apply to an event
 * (or is not known) is `null`, never absent, as each schema states per event.
 *
 * Delivery is at least once: a step publishes after the channel pointer moved, and a failed
 * publication fails the step, whose retry publishes again. Consumers dedupe on the detail-type
 * with `buildId` (`Image Promoted`, `Build Superseded`, `Build Failed`) or with `parameterName` +
 * `parameterVersion` (`Image Rolled Back`: one pointer version per move).
 */
import { DEFAULT_ARCHITECTURE, isArchitecture } from './architectures.js';
import { isBaseImageName } from './base-images.js';
import { TAG } from './tags.js';

/** `source` of every factory event (EventBridge reserves the `aws.` prefix for AWS services). */
export const EVENT_SOURCE = 'image-factory';

/** Version of the detail layout: raised when a field changes meaning or is removed. */
export const EVENT_SCHEMA_VERSION = 1;

/** The detail-types, one per event; each has `schemas/events/<kebab-case>.schema.json`. */
export const DETAIL_TYPES = {
  imagePromoted: 'Image Promoted',
  imageRolledBack: 'Image Rolled Back',
  buildFailed: 'Build Failed',
  buildSuperseded: 'Build Superseded',
} as const;
export type DetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/** Schema file of a detail-type: `Image Promoted` → `image-promoted.schema.json`. */
export const schemaFileOf = (detailType: DetailType): string =>
  `${detailType.toLowerCase().replace(/ /g, '-')}.schema.json`;

/** Longest probe summary, error cause and list entry carried (longer ones are cut, marked `…`). */
export const EVENT_TEXT_LIMITS = { summary: 1024, cause: 4096, name: 128, failed: 100 } as const;

/** What the probe reported, as events carry it (the finished probe's verdict). */
export type ProbeSummary = {
  /** One-line verdict, e.g. `12/12 checks passed`. */
  summary: string;
  /** Number of checks that ran. */
  checks: number;
  /** Names of the checks that failed (empty on a passed probe). */
  failed: string[];
};

/** Where the events are published from: the deployed stage and the AWS region (`local` locally). */
export type EventOrigin = {
  stage: string;
  region: string;
};

/**
 * The fields every factory event's detail has. (Type aliases, not interfaces, throughout: a detail
 * is also a plain JSON object, `Record<string, unknown>`.)
 */
export type CommonDetail = EventOrigin & {
  schemaVersion: typeof EVENT_SCHEMA_VERSION;
  pipeline: string;
  channel: string;
  /** EC2 `Architecture` of the image (`x86_64`, `arm64`); null when neither image nor base image records one. */
  architecture: 'x86_64' | 'arm64' | null;
  imageId: string | null;
  previousImageId: string | null;
  buildId: string | null;
  commit: string | null;
  /** The source AMI (or, for a layered build, the parent image) the image was baked from. */
  sourceImageId: string | null;
  probe: ProbeSummary | null;
};

/** Where the channel pointer stands after the event: SSM parameter name (file path locally) and version. */
export type PointerFields = {
  parameterName: string;
  parameterVersion: number;
};

export type ImagePromotedDetail = CommonDetail & PointerFields & { imageId: string; buildId: string };
export type BuildSupersededDetail = CommonDetail &
  PointerFields & { imageId: string; buildId: string; currentImageId: string; reason: string | null };
export type ImageRolledBackDetail = CommonDetail & PointerFields & { imageId: string; probe: null };
export type BuildFailedDetail = CommonDetail & {
  buildId: string;
  previousImageId: null;
  error: { name: string; cause: string | null };
  failedState: string;
};

/** One event, backend-neutral: EventBridge's `detail-type` and `detail`. */
export type FactoryEvent =
  | { detailType: typeof DETAIL_TYPES.imagePromoted; detail: ImagePromotedDetail }
  | { detailType: typeof DETAIL_TYPES.buildSuperseded; detail: BuildSupersededDetail }
  | { detailType: typeof DETAIL_TYPES.imageRolledBack; detail: ImageRolledBackDetail }
  | { detailType: typeof DETAIL_TYPES.buildFailed; detail: BuildFailedDetail };

/** `text` cut to `limit` characters, the last one `…` when cut. */
const cut = (text: string, limit: number): string =>
  text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;

/** The parts of an image the events read. */
export interface ImageFacts {
  imageId: string;
  tags: Record<string, string>;
  architecture?: string | undefined;
}

/** The parts of a build (`$.build`) the events read. */
export interface BuildFacts {
  buildId: string;
  pipeline: string;
  channel: string;
  baseImage?: string | undefined;
  commit?: string | undefined;
  sourceImageId?: string | undefined;
}

/** The parts of `$.probeResult` the events read. */
export interface ProbeFacts {
  status: string;
  checks: ReadonlyArray<{ name: string; ok: boolean }>;
  failed: readonly string[];
  summary?: string | undefined;
}

/**
 * The architecture of an image: its own (EC2 `Architecture`), else its `factory:architecture` tag,
 * else x86_64 when it descends from a catalog base image (`factory:base-image` tag, then
 * `baseImage`: images from before architectures were all x86_64); null when none is known or it
 * is not `x86_64` / `arm64`.
 */
export const architectureOf = (
  image: ImageFacts | undefined,
  baseImage?: string,
): 'x86_64' | 'arm64' | null => {
  const base = [image?.tags[TAG.baseImage], baseImage].find(
    (name): name is string => name !== undefined && isBaseImageName(name),
  );
  const value =
    image?.architecture ?? image?.tags[TAG.architecture] ?? (base ? DEFAULT_ARCHITECTURE : undefined);
  return isArchitecture(value) ? value : null;
};

/**
 * The probe summary of a finished, passed probe (`status: Success`), else null: a probe that failed
 * or timed out leaves no result (its checks are in the error's cause), one that is still running
 * has no verdict.
 */
export const probeSummaryOf = (probe: ProbeFacts | undefined): ProbeSummary | null => {
  if (probe?.status !== 'Success') return null;
  return {
    summary: cut(
      probe.summary ??
        `${probe.checks.filter((check) => check.ok).length}/${probe.checks.length} checks passed`,
      EVENT_TEXT_LIMITS.summary,
    ),
    checks: probe.checks.length,
    failed: probe.failed.slice(0, EVENT_TEXT_LIMITS.failed).map((name) => cut(name, EVENT_TEXT_LIMITS.name)),
  };
};

/** What the build recorded, else what its image's tags record, else null. */
const buildFields = (build: Partial<BuildFacts>, image: ImageFacts | undefined) => ({
  commit: build.commit ?? image?.tags[TAG.commit] ?? null,
  sourceImageId: build.sourceImageId ?? image?.tags[TAG.sourceAmi] ?? null,
});

/** The fields of an event about one image of a channel whose pointer it reports. */
const imageFields = (
  origin: EventOrigin,
  build: Partial<BuildFacts> & Pick<BuildFacts, 'pipeline' | 'channel'>,
  image: ImageFacts,
  pointer: PointerFields,
): Omit<CommonDetail, 'previousImageId' | 'buildId' | 'probe'> & PointerFields & { imageId: string } => ({
  schemaVersion: EVENT_SCHEMA_VERSION,
  ...origin,
  pipeline: build.pipeline,
  channel: build.channel,
  architecture: architectureOf(image, build.baseImage),
  imageId: image.imageId,
  ...buildFields(build, image),
  parameterName: pointer.parameterName,
  parameterVersion: pointer.parameterVersion,
});

/**
 * `Image Promoted`: the channel now names `image`.
 * @param input.build the build that promoted it (`factory promote`: what the image's tags record).
 * @param input.image the promoted image as the image store describes it.
 * @param input.previousImageId the image the channel named before (null on its first promotion).
 * @param input.probe `$.probeResult` (absent for `factory promote`: no probe ran, `probe` is null).
 */
export const imagePromoted = (
  origin: EventOrigin,
  input: {
    build: BuildFacts;
    image: ImageFacts;
    previousImageId: string | null;
    pointer: PointerFields;
    probe?: ProbeFacts | undefined;
  },
): FactoryEvent => ({
  detailType: DETAIL_TYPES.imagePromoted,
  detail: {
    ...imageFields(origin, input.build, input.image, input.pointer),
    previousImageId: input.previousImageId,
    buildId: input.image.tags[TAG.buildId] ?? input.build.buildId,
    probe: probeSummaryOf(input.probe),
  },
});

/**
 * `Build Superseded`: the build's candidate `image` was not promoted, because the channel's
 * current image (`currentImageId`) comes from a build at least as new (`core/promotion-order.ts`).
 * `previousImageId` is null: the channel did not move.
 */
export const buildSuperseded = (
  origin: EventOrigin,
  input: {
    build: BuildFacts;
    image: ImageFacts;
    currentImageId: string;
    reason?: string | undefined;
    pointer: PointerFields;
    probe?: ProbeFacts | undefined;
  },
): FactoryEvent => ({
  detailType: DETAIL_TYPES.buildSuperseded,
  detail: {
    ...imageFields(origin, input.build, input.image, input.pointer),
    previousImageId: null,
    buildId: input.build.buildId,
    probe: probeSummaryOf(input.probe),
    currentImageId: input.currentImageId,
    reason: input.reason ?? null,
  },
});

/**
 * `Image Rolled Back`: the channel names `image` again. `previousImageId` is the image it named
 * before the rollback (withdrawn; null when the channel had none); build id, commit and source
 * AMI are what `image`'s tags record (null when untagged); `probe` is null (no probe runs).
 */
export const imageRolledBack = (
  origin: EventOrigin,
  input: {
    pipeline: string;
    channel: string;
    image: ImageFacts;
    previousImageId: string | null;
    pointer: PointerFields;
  },
): FactoryEvent => ({
  detailType: DETAIL_TYPES.imageRolledBack,
  detail: {
    ...imageFields(origin, { pipeline: input.pipeline, channel: input.channel }, input.image, input.pointer),
    previousImageId: input.previousImageId,
    buildId: input.image.tags[TAG.buildId] ?? null,
    probe: null,
  },
});

/**
 * `Build Failed`: the build ended on the failure path. `imageId` is the build's candidate when it
 * was found (CleanupAfterFailure deregisters it when the failure came before promotion), else null;
 * `probe` is the passed probe's summary when the failure came after it, else null (a failed probe's
 * checks are in `error.cause`); `previousImageId` is null.
 * @param input.error `$.error` (`{ Error, Cause }`); `failedState` the state it was raised in.
 */
export const buildFailed = (
  origin: EventOrigin,
  input: {
    build: BuildFacts;
    candidateImageId?: string | undefined;
    probe?: ProbeFacts | undefined;
    error: { Error: string; Cause?: string | undefined } | undefined;
    failedState: string;
  },
): FactoryEvent => ({
  detailType: DETAIL_TYPES.buildFailed,
  detail: {
    schemaVersion: EVENT_SCHEMA_VERSION,
    ...origin,
    pipeline: input.build.pipeline,
    channel: input.build.channel,
    architecture: architectureOf(undefined, input.build.baseImage),
    imageId: input.candidateImageId ?? null,
    previousImageId: null,
    buildId: input.build.buildId,
    ...buildFields(input.build, undefined),
    probe: probeSummaryOf(input.probe),
    error: {
      name: cut(input.error?.Error ?? 'unknown', EVENT_TEXT_LIMITS.name),
      cause: input.error?.Cause === undefined ? null : cut(input.error.Cause, EVENT_TEXT_LIMITS.cause),
    },
    failedState: cut(input.failedState, EVENT_TEXT_LIMITS.name),
  },
});
