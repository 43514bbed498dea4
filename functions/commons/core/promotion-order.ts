/**
 * Monotonic promotion: which of two builds of one (stage, pipeline, channel) is newer. Pure.
 *
 * Builds are ordered by the creation time of their source AMI, then by the pipeline's build
 * sequence (1, 2, … in the order PrepareBuild ran, from the promotion ledger). A build never
 * replaces a newer current image: it ends `superseded`.
 *
 * The order of a promoted image is recorded on the image itself, in the tag `factory:build-order`
 * (`<source AMI creation time, ISO 8601 UTC>#<sequence, 12 digits>`), written before the channel
 * pointer moves, so the image the pointer names always carries it.
 */

/** Where a build stands among the builds of its pipeline. */
export interface BuildOrder {
  /** ISO 8601 creation time of the source AMI. */
  sourceCreatedAt: string;
  /** The pipeline's build sequence number (integer ≥ 1). */
  sequence: number;
}

const SEQUENCE_DIGITS = 12;
const ORDER_TAG = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)#(\d{12})$/;

/**
 * The `factory:build-order` tag value of `order`.
 * @throws RangeError when the time is not a date or the sequence not an integer in 1 … 10^12 − 1.
 */
export const formatBuildOrder = (order: BuildOrder): string => {
  const time = Date.parse(order.sourceCreatedAt);
  if (Number.isNaN(time))
    throw new RangeError(`source AMI creation time ${order.sourceCreatedAt} is not a date`);
  if (!Number.isInteger(order.sequence) || order.sequence < 1 || order.sequence >= 10 ** SEQUENCE_DIGITS) {
    throw new RangeError(
      `build sequence ${order.sequence} is not an integer in 1 … 10^${SEQUENCE_DIGITS} - 1`,
    );
  }
  return `${new Date(time).toISOString()}#${String(order.sequence).padStart(SEQUENCE_DIGITS, '0')}`;
};

/** The order a `factory:build-order` tag value records, or undefined when absent or malformed. */
export const parseBuildOrder = (value: string | undefined): BuildOrder | undefined => {
  const match = value === undefined ? null : ORDER_TAG.exec(value);
  if (!match?.[1] || !match[2]) return undefined;
  return { sourceCreatedAt: match[1], sequence: Number(match[2]) };
};

/** Negative when `a` is older than `b`, 0 when equal, positive when newer. */
export const compareBuildOrder = (a: BuildOrder, b: BuildOrder): number =>
  Date.parse(a.sourceCreatedAt) - Date.parse(b.sourceCreatedAt) || a.sequence - b.sequence;

export type PromotionDecision =
  | { action: 'promote'; reason: string }
  | { action: 'supersede'; reason: string };

/**
 * Whether `candidate` may replace the channel's current image.
 * - no current image, or the candidate already is current: promote (a retry converges);
 * - the current image records no order (promoted before orders were recorded): promote;
 * - otherwise promote only when the candidate is strictly newer.
 */
export const decidePromotion = (input: {
  candidateImageId: string;
  candidate: BuildOrder;
  currentImageId?: string | undefined;
  /** The current image's recorded order (its `factory:build-order` tag), when it has one. */
  current?: BuildOrder | undefined;
}): PromotionDecision => {
  const { candidate, current, currentImageId } = input;
  if (currentImageId === undefined) return { action: 'promote', reason: 'the channel has no current image' };
  if (currentImageId === input.candidateImageId) return { action: 'promote', reason: 'already current' };
  if (current === undefined)
    return { action: 'promote', reason: `current image ${currentImageId} records no build order` };
  return compareBuildOrder(candidate, current) > 0
    ? { action: 'promote', reason: `newer than current image ${currentImageId}` }
    : {
        action: 'supersede',
        reason: `current image ${currentImageId} (${formatBuildOrder(current)}) is not older than this build (${formatBuildOrder(candidate)})`,
      };
};
