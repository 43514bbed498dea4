/**
 * The clone check after a local promotion: a second machine booted from the promoted image must
 * not share the first one's machine identity (machine-id, SSH host keys), which the image's
 * cleanup step empties at bake time. The first machine is the build's test instance, whose
 * identity the local runner reads once its probe passed (`LocalRunSummary.testInstanceIdentity`).
 */
import type { QemuMachineLauncher } from '#local/machines.js';
import { guestShell, waitForAgent } from '#local/qemu/guest-agent.js';

/** Machine identity compared between two machines of one image (clones must differ). */
export interface Identity {
  machineId: string;
  hostKeys: string;
}

/**
 * The host key fingerprints (`SHA256:…`) of `ssh-keygen -lf` lines ("256 SHA256:… comment (TYPE)").
 * The comment is left out: it names the host that generated the key, not the key. Pure.
 */
export function hostKeyFingerprints(hostKeys: string): string[] {
  return hostKeys
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[1] ?? '')
    .filter((fingerprint) => fingerprint.startsWith('SHA256:'));
}

/**
 * Fields two machines of one image share but must not: `machine-id` when the ids are equal or the
 * first is empty, `ssh-host-keys` when any host key fingerprint is on both machines or the first has
 * none (an empty identity proves nothing, so it counts as shared). Pure.
 */
export function sameIdentity(first: Identity, second: Identity): string[] {
  const same: string[] = [];
  if (!first.machineId || first.machineId === second.machineId) same.push('machine-id');
  const firstKeys = hostKeyFingerprints(first.hostKeys);
  const secondKeys = new Set(hostKeyFingerprints(second.hostKeys));
  if (firstKeys.length === 0 || firstKeys.some((key) => secondKeys.has(key))) same.push('ssh-host-keys');
  return same;
}

/**
 * Reads the identity of the running machine behind a guest agent socket: /etc/machine-id and one
 * `ssh-keygen -lf` line per host public key.
 * @throws what the guest agent throws (timeout after 60 s, command failure).
 */
export async function readIdentityAt(qgaSocket: string): Promise<Identity> {
  const result = await guestShell(
    qgaSocket,
    'cat /etc/machine-id; for key in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "$key"; done',
    { timeoutSeconds: 60 },
  );
  const [machineId = '', ...keys] = result.stdout.trim().split('\n');
  return { machineId: machineId.trim(), hostKeys: keys.join('\n') };
}

/**
 * Reads the identity of a running machine of the launcher through its guest agent.
 * @throws what the guest agent throws (timeout after 60 s, command failure).
 */
export async function readIdentity(launcher: QemuMachineLauncher, instanceId: string): Promise<Identity> {
  return await readIdentityAt((await launcher.vm(instanceId)).qgaSocket);
}

/**
 * Boots a second machine from `imageId`, reads its identity once first boot finished, and
 * terminates it whatever happens.
 * The machine boots on the image's architecture (its `factory:architecture` tag).
 * @param waitSeconds for the guest agent, and then for first boot, each (default 360).
 * @throws what launching or the guest agent throws (agent wait and first boot: `waitSeconds` each).
 */
export async function bootAndReadIdentity(
  launcher: QemuMachineLauncher,
  imageId: string,
  executionName: string,
  waitSeconds = 360,
): Promise<Identity> {
  const { instanceId } = await launcher.launch({
    imageId,
    pipeline: 'clone-check',
    buildId: `${executionName}-clone`,
    executionName,
    idempotencyToken: `${executionName}-clone`,
  });
  try {
    const vm = await launcher.vm(instanceId);
    await waitForAgent(vm.qgaSocket, waitSeconds);
    // Host keys appear once cloud-init/ssh finished first boot.
    await guestShell(vm.qgaSocket, 'cloud-init status --wait >/dev/null 2>&1 || true', {
      timeoutSeconds: waitSeconds,
    });
    return await readIdentity(launcher, instanceId);
  } finally {
    await launcher.terminate([instanceId]);
  }
}
