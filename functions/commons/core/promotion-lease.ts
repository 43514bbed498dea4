/**
 * The promotion lease: one promotion at a time per (stage, pipeline, channel). Pure facts shared by
 * the AWS and local ledgers and pinned against the ASL by tests/statemachine.
 */

/**
 * Seconds a lease lasts unless released: longer than the worst case of the steps it covers
 * (PromoteImage: `TimeoutSeconds` 120 × 7 attempts of the standard Lambda retrier plus its delays,
 * about 16 minutes; tests/statemachine pins this), so only an execution that stopped without
 * releasing it (aborted, timed out) ever sees it lapse.
 */
export const PROMOTION_LEASE_TTL_SECONDS = 1800;

/** Key of the lease of one channel: `<stage>#<pipeline>#<channel>` (names never contain `#`). */
export const promotionLeaseKey = (stage: string, pipeline: string, channel: string): string =>
  `${stage}#${pipeline}#${channel}`;

/** Key of the pipeline's build sequence counter in the same ledger (`@` is never part of a channel name). */
export const buildSequenceKey = (stage: string, pipeline: string): string => `${stage}#${pipeline}#@sequence`;
