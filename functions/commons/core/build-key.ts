/**
 * Build id and deterministic Step Functions execution name. Pure (hashing only).
 *
 * The same (pipeline, source AMI, commit) always yields the same execution name, so a trigger that
 * fires twice (webhook redelivery, watcher re-run) gets `ExecutionAlreadyExists` instead of a
 * second bake. Execution names must be 1–80 characters from `[A-Za-z0-9-_]`, see
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html#StepFunctions-StartExecution-request-name
 */
import { createHash } from 'node:crypto';

export interface BuildKeyInput {
  pipeline: string;
  /** Source AMI id (or local base image id). */
  sourceImageId: string;
  /** Git commit (hex); absent for builds not tied to a commit (e.g. base image updates of HEAD). */
  commit?: string | undefined;
}

/** Maximum length of a Step Functions execution name. */
export const EXECUTION_NAME_MAX_LENGTH = 80;
const NO_COMMIT = 'head';

const digest = (input: BuildKeyInput): string =>
  createHash('sha256')
    .update(JSON.stringify([input.pipeline, input.sourceImageId, input.commit ?? NO_COMMIT]))
    .digest('hex');

const sanitize = (value: string): string => value.replace(/[^A-Za-z0-9-_]/g, '-');

/**
 * Build id: `<pipeline>-<12 hex>`; deterministic in (pipeline, sourceImageId, commit).
 * Used as the `factory:build-id` tag value.
 */
export const buildId = (input: BuildKeyInput): string =>
  `${sanitize(input.pipeline).slice(0, 50)}-${digest(input).slice(0, 12)}`;

/**
 * Execution name: `<pipeline>-<source ami>-<commit 7|head>-<8 hex>`, readable in the console,
 * never longer than 80 characters, only `[A-Za-z0-9-_]`. The hash suffix always survives
 * truncation, so distinct inputs give distinct names (up to a 2^-32 collision chance).
 */
export const executionName = (input: BuildKeyInput): string => {
  const hash = digest(input).slice(0, 8);
  const readable = sanitize(
    [input.pipeline, input.sourceImageId, input.commit ? input.commit.slice(0, 7) : NO_COMMIT].join('-'),
  );
  return `${readable.slice(0, EXECUTION_NAME_MAX_LENGTH - hash.length - 1)}-${hash}`;
};

/**
 * Idempotency token for launching the test instance of one execution: 64 hex characters (EC2
 * `ClientToken` allows at most 64 ASCII characters). Retrying the task reuses the token, so EC2
 * returns the instance it already launched instead of launching a second one.
 */
export const launchToken = (build: { buildId: string; executionName: string }): string =>
  createHash('sha256').update(`${build.buildId}/${build.executionName}/test-instance`).digest('hex');
