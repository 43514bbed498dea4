/**
 * `SourceRevisionResolver` for the repositories the runner fetches (`RepositoryUrl`):
 *
 * - `codecommit::<region>://<name>`: CodeCommit `GetBranch` → `branch.commitId`
 *   (https://docs.aws.amazon.com/codecommit/latest/APIReference/API_GetBranch.html; the caller
 *   needs `codecommit:GetBranch` on the repository);
 * - `https://…`: git's smart HTTP ref discovery, `GET <url>/info/refs?service=git-upload-pack`,
 *   whose body is pkt-lines: `# service=git-upload-pack`, a flush, then `<40 hex> <ref>` lines
 *   (the first with `\0<capabilities>`) and a flush
 *   (https://git-scm.com/docs/http-protocol#_smart_clients,
 *   https://git-scm.com/docs/gitprotocol-common#_pkt_line_format). Private repositories: the token
 *   from a SecureString goes as HTTP basic auth with user `x-access-token`, as GitHub documents for
 *   tokens over HTTPS (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation).
 */
import { type CodeCommitClient, GetBranchCommand } from '@aws-sdk/client-codecommit';
import { InvalidInput } from '../errors.js';
import type { SourceRevisionResolver } from '../ports.js';

const CODECOMMIT = /^codecommit::([a-z0-9-]+):\/\/([\w.-]+)$/;
const COMMIT = /^[0-9a-f]{40}$/;
/** Attempts of a ref discovery that fails at the network level (e.g. a reused, closed connection). */
const NETWORK_ATTEMPTS = 3;

/** The `<ref> → <commit>` pairs of a smart HTTP ref advertisement (protocol v0/v1). */
export const parseRefAdvertisement = (body: Uint8Array): Map<string, string> => {
  const text = Buffer.from(body).toString('latin1');
  const refs = new Map<string, string>();
  let at = 0;
  while (at + 4 <= text.length) {
    const length = Number.parseInt(text.slice(at, at + 4), 16);
    if (Number.isNaN(length)) throw new Error(`not a pkt-line at byte ${at}`);
    if (length === 0) {
      at += 4; // flush-pkt
      continue;
    }
    if (length < 4 || at + length > text.length) throw new Error(`truncated pkt-line at byte ${at}`);
    const line = text.slice(at + 4, at + length).replace(/\n$/, '');
    at += length;
    if (line.startsWith('#')) continue; // "# service=git-upload-pack"
    const [head = ''] = line.split('\0');
    const [commit, ref] = head.split(' ');
    if (commit && ref && COMMIT.test(commit)) refs.set(ref, commit);
  }
  return refs;
};

/** Options of {@link HttpsRevisionResolver}. */
export interface HttpsRevisionOptions {
  /** The token for private HTTPS repositories, or undefined (public repositories). */
  token: () => Promise<string | undefined>;
  fetch?: typeof fetch;
}

export interface GitRevisionOptions extends HttpsRevisionOptions {
  /** A CodeCommit client for a region. */
  codecommit: (region: string) => CodeCommitClient;
}

/**
 * Branch heads of `https://` repositories only (git smart-HTTP ref discovery). Its own class, so a
 * function that reads only HTTPS repositories (github-webhook) bundles no CodeCommit client.
 */
export class HttpsRevisionResolver implements SourceRevisionResolver {
  constructor(private readonly options: HttpsRevisionOptions) {}

  /**
   * @throws InvalidInput when the repository has no such branch or is not an `https://` URL.
   * @throws Error when the git server answers with an error status.
   */
  async headOf(repository: string, branch: string): Promise<string> {
    const commit = repository.startsWith('https://') ? await this.httpHead(repository, branch) : undefined;
    if (commit === undefined) throw new InvalidInput(`${repository} has no branch ${branch}`);
    return commit;
  }

  /** The commit of `refs/heads/<branch>`, or undefined when the repository has no such branch. */
  async httpHead(repository: string, branch: string): Promise<string | undefined> {
    const token = await this.options.token();
    const url = `${repository.replace(/\/+$/, '')}/info/refs?service=git-upload-pack`;
    const init = {
      headers: {
        // Git's own user agent prefix: some hosts only speak the smart protocol to git clients.
        'user-agent': 'git/2.39 image-factory',
        ...(token
          ? { authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}` }
          : {}),
      },
    };
    const response = await this.fetchWithRetry(url, init);
    if (!response.ok) {
      throw new Error(
        `ref discovery of ${repository} failed: HTTP ${response.status} ${response.statusText}`,
      );
    }
    return parseRefAdvertisement(new Uint8Array(await response.arrayBuffer())).get(`refs/heads/${branch}`);
  }

  /** `fetch` with up to {@link NETWORK_ATTEMPTS} attempts on network errors (fetch's TypeError). */
  private async fetchWithRetry(url: string, init: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await (this.options.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(10_000) });
      } catch (error) {
        if (!(error instanceof TypeError) || attempt >= NETWORK_ATTEMPTS) throw error;
      }
    }
  }
}

export class GitRevisionResolver implements SourceRevisionResolver {
  readonly #https: HttpsRevisionResolver;

  constructor(private readonly options: GitRevisionOptions) {
    this.#https = new HttpsRevisionResolver(options);
  }

  /**
   * @throws InvalidInput when the repository has no such branch or is not a supported URL.
   * @throws Error when the git server answers with an error status.
   */
  async headOf(repository: string, branch: string): Promise<string> {
    const codecommit = CODECOMMIT.exec(repository);
    const commit = codecommit
      ? await this.codeCommitHead(codecommit[1] as string, codecommit[2] as string, branch)
      : repository.startsWith('https://')
        ? await this.#https.httpHead(repository, branch)
        : undefined;
    if (commit === undefined) throw new InvalidInput(`${repository} has no branch ${branch}`);
    return commit;
  }

  private async codeCommitHead(region: string, repositoryName: string, branchName: string) {
    try {
      const { branch } = await this.options
        .codecommit(region)
        .send(new GetBranchCommand({ repositoryName, branchName }));
      return branch?.commitId;
    } catch (error) {
      if ((error as Error).name === 'BranchDoesNotExistException') return undefined;
      throw error;
    }
  }
}
