/**
 * What a git trigger accepts before it starts a build. Pure (no AWS, no I/O).
 *
 * - **Repository allow-list** (stage parameter `allowedRepositories`): GitHub repositories by
 *   `repository.full_name` (`owner/name`, compared case-insensitively: GitHub owner and
 *   repository names are case-insensitive), CodeCommit repositories by ARN
 *   (`arn:<partition>:codecommit:<region>:<account>:<name>`, the event's `resources[0]`,
 *   https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html). An empty list
 *   accepts no push at all (fail closed).
 * - **Body size** of a webhook delivery: GitHub caps payloads at 25 MB and a function URL accepts
 *   up to 6 MB (BUFFERED invoke mode,
 *   https://docs.aws.amazon.com/lambda/latest/api/API_FunctionUrlConfig.html `InvokeMode`); the
 *   factory's own limit (`WEBHOOK_MAX_BODY_BYTES`, default {@link DEFAULT_WEBHOOK_MAX_BODY_BYTES})
 *   is checked before the HMAC is computed.
 */
import { MissingConfiguration } from '../errors.js';

/** Default largest webhook body, in bytes (1 MiB: a push of 2,048 commits with file lists fits). */
export const DEFAULT_WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;

const GITHUB_FULL_NAME = /^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/;
const CODECOMMIT_ARN = /^arn:aws[a-z-]*:codecommit:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[\w.-]{1,100}$/;

/** The parsed allow-list: GitHub names lower-cased, CodeCommit ARNs as written. */
export interface RepositoryAllowList {
  readonly github: ReadonlySet<string>;
  readonly codeCommit: ReadonlySet<string>;
}

/**
 * Parse `ALLOWED_REPOSITORIES`: comma-separated GitHub `owner/name` and CodeCommit repository ARNs.
 * @throws MissingConfiguration naming the first entry that is neither.
 */
export const parseRepositoryAllowList = (value: string): RepositoryAllowList => {
  const github = new Set<string>();
  const codeCommit = new Set<string>();
  for (const entry of value.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    if (GITHUB_FULL_NAME.test(entry)) github.add(entry.toLowerCase());
    else if (CODECOMMIT_ARN.test(entry)) codeCommit.add(entry);
    else
      throw new MissingConfiguration(
        `environment variable ALLOWED_REPOSITORIES has an invalid entry "${entry}"; expected a GitHub ` +
          'owner/name or a CodeCommit repository ARN (arn:aws:codecommit:<region>:<account>:<name>)',
      );
  }
  return { github, codeCommit };
};

/** True when the GitHub repository `fullName` (`owner/name`) is on the list. */
export const isGitHubRepositoryAllowed = (list: RepositoryAllowList, fullName: string): boolean =>
  list.github.has(fullName.toLowerCase());

/** True when the CodeCommit repository `arn` is on the list (exact ARN). */
export const isCodeCommitRepositoryAllowed = (list: RepositoryAllowList, arn: string | undefined): boolean =>
  arn !== undefined && list.codeCommit.has(arn);

/**
 * Bytes of a function-URL body without decoding it: base64 carries 3 bytes per 4 characters,
 * less its padding; a text body is counted as UTF-8.
 */
export const bodyByteLength = (body: string | undefined, isBase64Encoded: boolean): number => {
  if (body === undefined) return 0;
  if (!isBase64Encoded) return Buffer.byteLength(body, 'utf8');
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  return Math.floor((body.length * 3) / 4) - padding;
};
