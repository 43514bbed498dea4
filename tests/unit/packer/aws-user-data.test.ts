/**
 * `packer/files/aws-user-data.sh`, the user data of the AWS build instance, run on this host with
 * test doubles on PATH for what only an EC2 instance has: `curl` answers as the instance metadata
 * service (IMDSv2 token, region) and as the regional SSM agent bucket, `dpkg` reports the
 * instance's architecture, `dpkg -i` and `systemctl` only record their calls. Asserted: the agent
 * package is the one of the instance's architecture (AWS "Manually install SSM Agent on Debian
 * Server instances": `debian_amd64` for x86_64, `debian_arm64` for arm64), and an architecture
 * with no package is refused before anything is fetched.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '../../../packer/files/aws-user-data.sh');

/** Test doubles: each appends its arguments to $CALLS, one line per call. */
const DOUBLES: Record<string, string> = {
  curl: `#!/bin/sh
echo "curl $*" >> "$CALLS"
case "$*" in
  *api/token*) echo token-1 ;;
  *placement/region*) echo eu-west-1 ;;
  *) while [ $# -gt 0 ]; do if [ "$1" = -o ]; then echo deb > "$2"; fi; shift; done ;;
esac
`,
  dpkg: `#!/bin/sh
echo "dpkg $*" >> "$CALLS"
if [ "$1" = --print-architecture ]; then echo "$FAKE_ARCH"; fi
`,
  systemctl: `#!/bin/sh
echo "systemctl $*" >> "$CALLS"
`,
};

describe('aws-user-data.sh', () => {
  let work: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'aws-user-data-test-'));
    for (const [name, body] of Object.entries(DOUBLES)) {
      await writeFile(join(work, name), body);
      await chmod(join(work, name), 0o755);
    }
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** Runs the script as on an instance of Debian architecture `arch`; its exit code, stderr and the calls. */
  const userData = async (arch: string) => {
    const calls = join(work, 'calls');
    await writeFile(calls, '');
    const env = { PATH: `${work}:/usr/bin:/bin`, CALLS: calls, FAKE_ARCH: arch };
    let code = 0;
    let stderr = '';
    try {
      ({ stderr } = await run('sh', [script], { env }));
    } catch (error) {
      ({ code, stderr } = error as { code: number; stderr: string });
    }
    return { code, stderr, calls: (await readFile(calls, 'utf8')).trim().split('\n').filter(Boolean) };
  };

  it.each([
    ['amd64', 'debian_amd64'],
    ['arm64', 'debian_arm64'],
  ])('on %s installs the %s agent package from the region bucket and starts it', async (arch, folder) => {
    const { code, stderr, calls } = await userData(arch);

    expect(code, stderr).toBe(0);
    const download = calls.find((call) => call.includes('amazon-ssm-agent.deb'));
    expect(download).toContain(
      `https://s3.eu-west-1.amazonaws.com/amazon-ssm-eu-west-1/latest/${folder}/amazon-ssm-agent.deb`,
    );
    expect(calls.some((call) => /^dpkg -i \S+\.deb$/.test(call))).toBe(true);
    expect(calls.at(-1)).toBe('systemctl enable --now amazon-ssm-agent');
  });

  it('refuses an architecture with no agent package, fetching nothing', async () => {
    const { code, stderr, calls } = await userData('armhf');

    expect(code).toBe(1);
    expect(stderr).toContain('no SSM agent package for Debian architecture armhf (expected amd64 or arm64)');
    expect(calls.filter((call) => call.startsWith('curl'))).toEqual([]);
  });
});
