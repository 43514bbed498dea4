import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createSeedIso, renderMetaData, renderUserData, toHostname } from '#local/qemu/seed.js';

const run = promisify(execFile);
const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0lGS6mRvZ6gYbQe6ZP4cjQ2j7ud8bYVZ5s0Xw9nU2J factory';

describe('renderUserData', () => {
  it('creates the user with the key, passwordless sudo and a locked password', () => {
    // Act
    const text = renderUserData({ instanceId: 'i-1', sshPublicKeys: [key] });

    // Assess
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const config = parse(text) as Record<string, unknown>;
    expect(config).toEqual({
      users: [
        {
          name: 'factory',
          gecos: 'Image factory',
          shell: '/bin/bash',
          groups: ['sudo'],
          sudo: 'ALL=(ALL) NOPASSWD:ALL',
          lock_passwd: true,
          ssh_authorized_keys: [key],
        },
      ],
      disable_root: true,
      ssh_pwauth: false,
    });
  });

  it('quotes values so YAML cannot reinterpret them', () => {
    // Act
    const text = renderUserData({
      instanceId: 'i-1',
      sshPublicKeys: ['ssh-ed25519 AAA # not: a comment'],
      user: 'yes',
    });

    // Assess
    const config = parse(text) as { users: { name: string; ssh_authorized_keys: string[] }[] };
    expect(config.users[0]?.name).toBe('yes');
    expect(config.users[0]?.ssh_authorized_keys).toEqual(['ssh-ed25519 AAA # not: a comment']);
  });

  it('appends extra cloud-config keys', () => {
    // Act
    const text = renderUserData({
      instanceId: 'i-1',
      sshPublicKeys: [key],
      extraCloudConfig: 'packages: [jq]\n',
    });

    // Assess
    expect((parse(text) as { packages: string[] }).packages).toEqual(['jq']);
  });
});

describe('renderMetaData', () => {
  it.each([
    ['vm-1', undefined, 'vm-1'],
    ['Build_42.test', undefined, 'build-42-test'],
    ['vm-1', 'web-1', 'web-1'],
  ])('instance %s with hostname %s → local-hostname %s', (instanceId, hostname, expected) => {
    // Prepare
    const options =
      hostname === undefined
        ? { instanceId, sshPublicKeys: [key] }
        : { instanceId, hostname, sshPublicKeys: [key] };

    // Act
    const meta = parse(renderMetaData(options)) as Record<string, string>;

    // Assess
    expect(meta).toEqual({ 'instance-id': instanceId, 'local-hostname': expected });
  });
});

describe('toHostname', () => {
  it.each([
    ['abc', 'abc'],
    ['--A--', 'a'],
    ['***', 'factory-vm'],
    ['x'.repeat(80), 'x'.repeat(63)],
  ])('%s → %s', (id, expected) => {
    expect(toHostname(id)).toBe(expected);
  });
});

describe('createSeedIso', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seed-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes an ISO labelled cidata with user-data, meta-data and network-config', async () => {
    // Prepare
    const iso = join(dir, 'seed.iso');

    // Act
    await createSeedIso(iso, { instanceId: 'vm-7', sshPublicKeys: [key], networkConfig: 'version: 2\n' });

    // Assess
    expect((await stat(iso)).size).toBeGreaterThan(0);
    const { stdout: volume } = await run('xorriso', ['-indev', iso, '-pvd_info'], { encoding: 'utf8' });
    expect(volume).toMatch(/Volume Id\s*:\s*cidata/);
    const { stdout: listing } = await run('xorriso', ['-indev', iso, '-find', '/', '-type', 'f'], {
      encoding: 'utf8',
    });
    expect(listing).toContain("'/user-data'");
    expect(listing).toContain("'/meta-data'");
    expect(listing).toContain("'/network-config'");
    const extracted = join(dir, 'meta-data');
    await run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/meta-data', extracted]);
    expect(await readFile(extracted, 'utf8')).toContain('instance-id: "vm-7"');
  });
});
