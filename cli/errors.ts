/**
 * The CLI's errors and how every error reaches the operator: one line saying what is wrong, one
 * saying what to do, an exit status, and never a stack trace (set `FACTORY_DEBUG=1` for one).
 *
 * Exit statuses: 0 success; 1 the operation or the execution failed; 2 bad arguments or input
 * (nothing was sent or changed); 130 interrupted.
 */
import { CommanderError } from 'commander';
import { FactoryError, PromotionLeaseHeld } from '#commons/errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Bad arguments or a command the chosen backend does not have. Exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operation that could not be done, with what to do about it. Exit status 1. */
export class OperatorError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}

export interface Explained {
  /** Error name (`InvalidInput`, `AccessDeniedException`, …). */
  name: string;
  message: string;
  hint?: string;
  exitCode: number;
}

/** Factory errors that mean the request was refused before anything changed. */
const INPUT_ERRORS = new Set([
  'InvalidInput',
  'UnknownBaseImage',
  'UnknownImageDefinition',
  'ForeignBaseImage',
]);
const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'ProviderError', 'TokenProviderError']);
const EXPIRED = /Expired|InvalidClientTokenId|UnrecognizedClient|SignatureDoesNotMatch/;
const DENIED = /AccessDenied|UnauthorizedOperation|NotAuthorized|Forbidden/;
const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN']);

/**
 * What to tell the operator about `error`.
 * @param context the backend in use (`stack golden-image-factory-dev in us-east-1`), for hints.
 */
export const explain = (error: unknown, context?: string): Explained => {
  if (error instanceof UsageError) return withHint('UsageError', error.message, error.hint, EXIT.usage);
  if (error instanceof OperatorError)
    return withHint('OperatorError', error.message, error.hint, EXIT.failed);
  if (error instanceof CommanderError) {
    return { name: 'UsageError', message: error.message.replace(/^error: /, ''), exitCode: EXIT.usage };
  }
  if (error instanceof PromotionLeaseHeld) {
    return withHint(
      error.name,
      error.message,
      `a promotion or rollback of this channel is running (${error.holder}); try again when it has finished, or after ${error.expiresAt} if its holder was stopped`,
      EXIT.failed,
    );
  }
  if (error instanceof FactoryError) {
    const input = INPUT_ERRORS.has(error.name);
    return withHint(
      error.name,
      error.message,
      input ? 'nothing was sent or changed; correct the input and run the command again' : undefined,
      input ? EXIT.usage : EXIT.failed,
    );
  }
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), exitCode: EXIT.failed };
  const code =
    (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && NETWORK.has(code)) {
    return withHint(
      error.name,
      `cannot reach the AWS endpoint (${code}): ${error.message}`,
      'check the network, the region and AWS_ENDPOINT_URL',
      EXIT.failed,
    );
  }
  if (CREDENTIAL_ERRORS.has(error.name)) {
    return withHint(
      error.name,
      `no AWS credentials: ${error.message}`,
      'set AWS_PROFILE (or run aws sso login / aws configure), or use --local for the local backend',
      EXIT.failed,
    );
  }
  if (EXPIRED.test(error.name)) {
    return withHint(
      error.name,
      error.message,
      'refresh your AWS credentials (aws sso login) and try again',
      EXIT.failed,
    );
  }
  if (DENIED.test(error.name)) {
    return withHint(
      error.name,
      error.message,
      `your AWS identity may not do this${context ? ` on ${context}` : ''}; README "Operator CLI" lists the permissions each command needs`,
      EXIT.failed,
    );
  }
  if ('$metadata' in error) {
    return withHint(
      error.name,
      error.message,
      context ? `while working on ${context}` : undefined,
      EXIT.failed,
    );
  }
  return { name: error.name, message: error.message, exitCode: EXIT.failed };
};

const withHint = (name: string, message: string, hint: string | undefined, exitCode: number): Explained => ({
  name,
  message,
  ...(hint ? { hint } : {}),
  exitCode,
});
