/**
 * Tag keys and values of the ownership contract (`docs/design.md`, "Tags").
 * IAM policies condition on `factory:pipeline`, so every image and test instance carries it.
 */
import { ARCHITECTURE_TAG } from './architectures.js';

export const TAG = {
  pipeline: 'factory:pipeline',
  /** CPU architecture the image was baked for (`core/architectures.ts`); images without it are x86_64. */
  architecture: ARCHITECTURE_TAG,
  /** Deployment stage that owns the resource (retention only touches its own stage's images). */
  stage: 'factory:stage',
  buildId: 'factory:build-id',
  /** Monotonic promotion order of a promoted image (`core/promotion-order.ts`). */
  buildOrder: 'factory:build-order',
  channel: 'factory:channel',
  sourceAmi: 'factory:source-ami',
  sourceAmiName: 'factory:source-ami-name',
  /** Base image catalog key (`core/base-images.ts`) the image descends from; a layered build inherits it. */
  baseImage: 'factory:base-image',
  /** The parent pipeline's image a layered build was baked from (absent on images baked from a base image). */
  parentImage: 'factory:parent-image',
  commit: 'factory:commit',
  /**
   * Where the image's SBOM (CycloneDX 1.5 JSON, made by syft at bake time) is stored:
   * `s3://<bucket>/sboms/<pipeline>/<buildId>.cdx.json` on AWS, `file://<absolute path>` in the
   * local catalog. Absent on images baked before SBOMs existed.
   */
  sbom: 'factory:sbom',
  buildDate: 'factory:build-date',
  protected: 'factory:protected',
  execution: 'factory:execution',
  role: 'factory:role',
  name: 'Name',
} as const;

/** `factory:channel` value of a freshly baked, not yet promoted image. */
export const CANDIDATE_CHANNEL = 'candidate';
/** `factory:channel` value of an image that left the channel history by promotion. */
export const RETIRED_CHANNEL = 'retired';
/** `factory:channel` value of an image that was withdrawn from its channel by a rollback. */
export const ROLLED_BACK_CHANNEL = 'rolled-back';
/** `factory:role` value of a test instance. */
export const TEST_INSTANCE_ROLE = 'test-instance';

/** Prefix of the `factory:channel` value of a channel's previous image (`previous-stable`). */
export const PREVIOUS_CHANNEL_PREFIX = 'previous-';

/** `factory:channel` value of the image demoted from `channel` by the latest promotion. */
export const previousChannel = (channel: string): string => `${PREVIOUS_CHANNEL_PREFIX}${channel}`;

/**
 * `factory:channel` values that mark no channel: no channel may be named like them, nor start
 * with {@link PREVIOUS_CHANNEL_PREFIX}. The one list: the input schemas, promotion and the Packer
 * variable validation (`packer/variables.pkr.hcl`, pinned by `tests/unit/core/tags.test.ts`) follow it.
 */
export const RESERVED_CHANNELS: readonly string[] = [CANDIDATE_CHANNEL, RETIRED_CHANNEL, ROLLED_BACK_CHANNEL];

/** True when `name` cannot be a channel name: a reserved value or a `previous-…` value. */
export const isReservedChannel = (name: string): boolean =>
  RESERVED_CHANNELS.includes(name) || name.startsWith(PREVIOUS_CHANNEL_PREFIX);

/** True when a `factory:channel` value marks the current or previous image of some channel. */
export const isPromotedChannelTag = (value: string | undefined): boolean =>
  value !== undefined && value !== '' && !RESERVED_CHANNELS.includes(value);

/** Code-unit order of two ids (locale-independent, so plans are identical on every machine). */
export const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
