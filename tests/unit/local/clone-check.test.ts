/**
 * The clone check (`local/clone-check.ts`): a second machine of the promoted image is booted, its
 * machine identity read through the guest agent, and the machine terminated whatever happens.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LaunchRequest } from '#commons/ports.js';
import { bootAndReadIdentity } from '#local/clone-check.js';
import type { QemuMachineLauncher } from '#local/machines.js';
import { type AgentHandler, fakeAgent } from '../helpers/fake-agent.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const MACHINE_ID = '4f1c0e7a9b2d4c6e8f0a1b2c3d4e5f60';
const HOST_KEYS = '256 SHA256:abc root@clone (ED25519)\n3072 SHA256:def root@clone (RSA)';

/** A guest that runs every command at once; `identity` answers the identity read. */
const guest =
  (identity: () => { exitcode: number; out: string }): AgentHandler =>
  (request) => {
    if (request.execute === 'guest-ping') return {};
    if (request.execute === 'guest-exec') {
      const script = String((request.arguments?.arg as string[] | undefined)?.[1] ?? '');
      return { pid: script.includes('machine-id') ? 2 : 1 };
    }
    if (request.arguments?.pid === 1) return { exited: true, exitcode: 0 };
    const { exitcode, out } = identity();
    return { exited: true, exitcode, 'out-data': b64(out) };
  };

describe('bootAndReadIdentity', () => {
  let dir: string;
  let server: Server | undefined;
  let launched: LaunchRequest[];
  let terminated: string[];
  let launcher: QemuMachineLauncher;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clone-check-'));
    launched = [];
    terminated = [];
    launcher = {
      launch: async (request: LaunchRequest) => {
        launched.push(request);
        return { instanceId: 'local-i-clone' };
      },
      vm: async () => ({ qgaSocket: join(dir, 'qga.sock') }),
      terminate: async (ids: readonly string[]) => {
        terminated.push(...ids);
        return [...ids];
      },
    } as unknown as QemuMachineLauncher;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('boots a clone of the image, reads machine-id and host keys, and terminates it', async () => {
    // Prepare
    server = await fakeAgent(
      join(dir, 'qga.sock'),
      guest(() => ({ exitcode: 0, out: `${MACHINE_ID}\n${HOST_KEYS}\n` })),
    );

    // Act
    const identity = await bootAndReadIdentity(launcher, 'local-web-1', 'web-exec-1');

    // Assess
    expect(identity).toEqual({ machineId: MACHINE_ID, hostKeys: HOST_KEYS });
    expect(launched).toEqual([
      {
        imageId: 'local-web-1',
        pipeline: 'clone-check',
        buildId: 'web-exec-1-clone',
        executionName: 'web-exec-1',
        idempotencyToken: 'web-exec-1-clone',
      },
    ]);
    expect(terminated).toEqual(['local-i-clone']);
  });

  it('terminates the clone when reading its identity fails, and reports the failure', async () => {
    // Prepare: the agent refuses the identity read.
    server = await fakeAgent(
      join(dir, 'qga.sock'),
      guest(() => {
        throw new Error('guest-exec-status: permission denied');
      }),
    );

    // Act + Assess
    await expect(bootAndReadIdentity(launcher, 'local-web-1', 'web-exec-1')).rejects.toMatchObject({
      name: 'GuestAgentError',
    });
    expect(terminated).toEqual(['local-i-clone']);
  });
});
