/**
 * The local stand-ins for the vendor's source AMI parameter and for Slack (`local/sources.ts`):
 * only Debian 12 can be baked locally, arm64 only with the opt-in, ids name a cached base image of
 * their architecture, and the terminal report is printed and forwarded.
 */
import { describe, expect, it } from 'vitest';
import type { Notification, Notifier } from '#commons/ports.js';
import {
  BASE_IMAGE_DIR,
  LocalBaseImageResolver,
  parseLocalBaseImageId,
  TerminalNotifier,
} from '#local/sources.js';

describe('LocalBaseImageResolver', () => {
  it.each(['ubuntu-24.04', 'al2023'])(
    'refuses %s, which exists only on AWS, before building anything',
    async (base) => {
      // A build would run scripts/build-base-image.sh; onLine sees any of its output.
      const lines: string[] = [];
      const resolver = new LocalBaseImageResolver({ onLine: (line) => lines.push(line) });
      await expect(resolver.resolve(base)).rejects.toMatchObject({
        name: 'InvalidInput',
        message: `base image ${base} is only available on AWS; the local backend bakes from: debian-12`,
      });
      expect(lines).toEqual([]);
    },
  );

  it('refuses arm64 without the opt-in, naming it, before building anything', async () => {
    // Prepare
    const lines: string[] = [];
    const resolver = new LocalBaseImageResolver({ onLine: (line) => lines.push(line) });

    // Act / Assess
    await expect(resolver.resolve('debian-12', 'arm64')).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining(
        'the local backend bakes arm64 only when opted in: set FACTORY_LOCAL_ARM64=1',
      ),
    });
    expect(lines).toEqual([]);
  });

  it('with arm64 enabled, gets past the architecture check (to the base image check)', async () => {
    // Prepare: an AWS-only base image, so that nothing is built.
    const resolver = new LocalBaseImageResolver({ architectures: ['x86_64', 'arm64'] });

    // Act / Assess
    await expect(resolver.resolve('ubuntu-24.04', 'arm64')).rejects.toMatchObject({
      name: 'InvalidInput',
      message: 'base image ubuntu-24.04 is only available on AWS; the local backend bakes from: debian-12',
    });
  });

  it('refuses a base image outside the catalog', async () => {
    await expect(new LocalBaseImageResolver().resolve('windows-95')).rejects.toMatchObject({
      name: 'UnknownBaseImage',
    });
  });

  it.each([
    ['an AMI id', 'ami-0123456789abcdef0'],
    ['a candidate image id', 'local-web-20260101'],
    ['a base image id that was never built', `local-base-debian-12-${'0'.repeat(64)}`],
    ['an arm64 base image id that was never built', `local-base-debian-12-arm64-${'0'.repeat(12)}`],
  ])('describes %s as no local source image', async (_what, imageId) => {
    expect(await new LocalBaseImageResolver().describe(imageId)).toBeUndefined();
  });

  it('finds the disk of a base image id in the base image cache, and refuses other ids', () => {
    expect(LocalBaseImageResolver.pathOf('local-base-debian-12-0123456789ab')).toBe(
      `${BASE_IMAGE_DIR}/debian-12-0123456789ab.qcow2`,
    );
    expect(LocalBaseImageResolver.pathOf('local-base-debian-12-arm64-0123456789ab')).toBe(
      `${BASE_IMAGE_DIR}/debian-12-arm64-0123456789ab.qcow2`,
    );
    expect(() => LocalBaseImageResolver.pathOf('local-web-1')).toThrow(
      'not a local base image id: local-web-1',
    );
  });

  it.each([
    ['local-base-debian-12-0123456789ab', { architecture: 'x86_64', hash: '0123456789ab' }],
    ['local-base-debian-12-arm64-0123456789ab', { architecture: 'arm64', hash: '0123456789ab' }],
    ['local-base-debian-12-amd64-0123456789ab', undefined],
    ['local-base-debian-12-arm64-', undefined],
    ['local-base-debian-12-arm64', undefined],
    ['local-img-0123456789abcdef0', undefined],
  ])('parses the base image id %s', (imageId, expected) => {
    expect(parseLocalBaseImageId(imageId)).toEqual(expected);
  });
});

describe('TerminalNotifier', () => {
  const report: Notification = {
    outcome: 'failure',
    title: 'web: build failed at ProbeTestInstance',
    fields: [
      { label: 'pipeline', value: 'web' },
      { label: 'error', value: 'ProbeFailed' },
    ],
    detail: 'check sshd failed',
  };

  it('prints the report with its fields and detail, and keeps it', async () => {
    const written: string[] = [];
    const notifier = new TerminalNotifier((text) => written.push(text));
    await notifier.notify(report);
    expect(written).toEqual([
      '✘ web: build failed at ProbeTestInstance\n    pipeline: web\n    error: ProbeFailed\n    check sshd failed\n',
    ]);
    expect(notifier.sent).toEqual([report]);
  });

  it('forwards the report to the configured notifier, whose failure reaches the caller', async () => {
    const forwarded: Notification[] = [];
    const slack: Notifier = {
      notify: async (notification) => {
        forwarded.push(notification);
        throw Object.assign(new Error('webhook answered 404'), { name: 'SlackDeliveryFailed' });
      },
    };
    const notifier = new TerminalNotifier(() => undefined, slack);
    await expect(notifier.notify({ ...report, outcome: 'success', detail: undefined })).rejects.toMatchObject(
      {
        name: 'SlackDeliveryFailed',
      },
    );
    expect(forwarded).toHaveLength(1);
  });
});
