import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * NoCloud seed for cloud-init: the local counterpart of EC2 user data + instance metadata.
 *
 * cloud-init "NoCloud" datasource (docs: cloudinit.readthedocs.io, reference/datasources/nocloud):
 * a vfat or iso9660 filesystem with volume label `cidata` (or `CIDATA`) holding `user-data`,
 * `meta-data` and optionally `network-config` (network config version 2, or 1). `meta-data`
 * carries `instance-id` (a change of it makes cloud-init run its per-instance modules again, as a
 * new EC2 instance id does) and `local-hostname`. `user-data` starting with `#cloud-config` is
 * cloud-config YAML (reference/modules: users and groups, ssh).
 */

/** Default login user on factory VMs (like `ubuntu` / `admin` / `ec2-user` on AMIs). */
export const DEFAULT_USER = 'factory';

export interface SeedOptions {
  /** becomes `instance-id` (use the VM id, as EC2 uses the instance id) */
  instanceId: string;
  /** public key line(s) allowed to log in as `user` */
  sshPublicKeys: string[];
  /** login user, created with passwordless sudo and a locked password; default `factory` */
  user?: string;
  /** `local-hostname`; default the instance id */
  hostname?: string;
  /** optional cloud-init network-config (v2 YAML); omitted → cloud-init's fallback DHCP on the first NIC */
  networkConfig?: string;
  /** extra cloud-config lines appended verbatim after the generated ones (top-level YAML keys) */
  extraCloudConfig?: string;
}

/** Renders `user-data` (#cloud-config). Pure. Values are JSON strings, which YAML reads as-is. */
export function renderUserData(options: SeedOptions): string {
  const user = options.user ?? DEFAULT_USER;
  const q = (value: string): string => JSON.stringify(value);
  const lines = [
    '#cloud-config',
    'users:',
    `  - name: ${q(user)}`,
    `    gecos: ${q('Image factory')}`,
    `    shell: ${q('/bin/bash')}`,
    `    groups: [${q('sudo')}]`,
    `    sudo: ${q('ALL=(ALL) NOPASSWD:ALL')}`,
    '    lock_passwd: true',
    '    ssh_authorized_keys:',
    ...options.sshPublicKeys.map((key) => `      - ${q(key.trim())}`),
    'disable_root: true',
    'ssh_pwauth: false',
  ];
  if (options.extraCloudConfig !== undefined) lines.push(options.extraCloudConfig.trimEnd());
  return `${lines.join('\n')}\n`;
}

/** Renders `meta-data`. Pure. */
export function renderMetaData(options: SeedOptions): string {
  const hostname = options.hostname ?? toHostname(options.instanceId);
  return `instance-id: ${JSON.stringify(options.instanceId)}\nlocal-hostname: ${JSON.stringify(hostname)}\n`;
}

/** A valid hostname label derived from an id (lower-case, [a-z0-9-], at most 63 characters). Pure. */
export function toHostname(id: string): string {
  const label = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return label === '' ? 'factory-vm' : label;
}

/**
 * Writes a NoCloud seed ISO (iso9660 + Rock Ridge + Joliet, volume id `cidata`) to `isoPath`
 * with `xorriso -as mkisofs` (package xorriso), falling back to `genisoimage`.
 * @returns `isoPath`
 * @throws Error when neither tool is installed or the tool fails
 */
export async function createSeedIso(isoPath: string, options: SeedOptions): Promise<string> {
  await mkdir(dirname(isoPath), { recursive: true });
  const staging = await mkdtemp(join(dirname(isoPath), '.seed-'));
  try {
    await writeFile(join(staging, 'user-data'), renderUserData(options));
    await writeFile(join(staging, 'meta-data'), renderMetaData(options));
    if (options.networkConfig !== undefined) {
      await writeFile(join(staging, 'network-config'), options.networkConfig);
    }
    const args = ['-output', isoPath, '-volid', 'cidata', '-joliet', '-rock', staging];
    try {
      await run('xorriso', ['-as', 'mkisofs', '-quiet', ...args]);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await run('genisoimage', ['-quiet', ...args]);
    }
    return isoPath;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
