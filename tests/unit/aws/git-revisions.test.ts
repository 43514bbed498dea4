/**
 * GitRevisionResolver: the branch head of the image definition repository, for builds that name
 * no commit. The HTTPS case reads a real ref advertisement, produced by git itself
 * (`git upload-pack --advertise-refs`, what `git http-backend` serves) from a throw-away repository.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeCommitClient, GetBranchCommand } from '@aws-sdk/client-codecommit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitRevisionResolver, parseRefAdvertisement } from '#commons/aws/git-revisions.js';
import { mockAws } from '../helpers/aws.js';

const codecommit = mockAws(CodeCommitClient);

let repo: string;
let heads: { main: string; feature: string };
const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  }).trim();

/** What `GET <repo>/info/refs?service=git-upload-pack` answers (smart HTTP, protocol v0). */
const advertisement = (): Buffer => {
  const service = '# service=git-upload-pack\n';
  const header = `${(service.length + 4).toString(16).padStart(4, '0')}${service}0000`;
  const refs = execFileSync('git', ['upload-pack', '--stateless-rpc', '--advertise-refs', repo]);
  return Buffer.concat([Buffer.from(header), refs]);
};

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'factory-refs-'));
  git('init', '--quiet', '--initial-branch=main');
  writeFileSync(join(repo, 'a'), '1');
  git('add', 'a');
  git('commit', '--quiet', '-m', 'one');
  git('checkout', '--quiet', '-b', 'feature');
  writeFileSync(join(repo, 'a'), '2');
  git('commit', '--quiet', '-am', 'two');
  git('checkout', '--quiet', 'main');
  heads = { main: git('rev-parse', 'main'), feature: git('rev-parse', 'feature') };
});
afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe('parseRefAdvertisement', () => {
  it('reads every branch head of a real advertisement', () => {
    const refs = parseRefAdvertisement(advertisement());

    expect(refs.get('refs/heads/main')).toBe(heads.main);
    expect(refs.get('refs/heads/feature')).toBe(heads.feature);
  });

  it('refuses a body that is not pkt-lines', () => {
    expect(() => parseRefAdvertisement(Buffer.from('<html>login</html>'))).toThrow(/not a pkt-line/);
  });
});

describe('GitRevisionResolver', () => {
  const resolver = (token?: string, seen: Array<{ url: string; auth?: string }> = []) =>
    new GitRevisionResolver({
      codecommit: (region) => new CodeCommitClient({ region }),
      token: async () => token,
      fetch: async (url, init) => {
        const headers = (init?.headers ?? {}) as Record<string, string>;
        seen.push({ url: String(url), ...(headers.authorization ? { auth: headers.authorization } : {}) });
        return new Response(advertisement(), {
          headers: { 'content-type': 'application/x-git-upload-pack-advertisement' },
        });
      },
    });

  it('resolves an HTTPS repository branch through ref discovery, with the token as basic auth', async () => {
    const seen: Array<{ url: string; auth?: string }> = [];

    const commit = await resolver('t0ken', seen).headOf('https://github.com/acme/images.git', 'feature');

    expect(commit).toBe(heads.feature);
    expect(seen).toEqual([
      {
        url: 'https://github.com/acme/images.git/info/refs?service=git-upload-pack',
        auth: `Basic ${Buffer.from('x-access-token:t0ken').toString('base64')}`,
      },
    ]);
  });

  it('sends no credentials for a public repository and names a missing branch', async () => {
    const seen: Array<{ url: string; auth?: string }> = [];

    await expect(
      resolver(undefined, seen).headOf('https://github.com/acme/images.git', 'nope'),
    ).rejects.toMatchObject({
      name: 'InvalidInput',
      message: 'https://github.com/acme/images.git has no branch nope',
    });
    expect(seen[0]?.auth).toBeUndefined();
  });

  it('resolves a CodeCommit branch with GetBranch', async () => {
    codecommit
      .on(GetBranchCommand, { repositoryName: 'images', branchName: 'main' })
      .resolves({ branch: { commitId: heads.main } });

    await expect(resolver().headOf('codecommit::eu-west-1://images', 'main')).resolves.toBe(heads.main);
  });
});
