import type { ImageRecord } from '#commons/ports.js';
import type { Build, Candidate } from '#commons/schemas.js';

export const NOW = new Date('2026-06-30T12:00:00.000Z');
export const DAY_MS = 86_400_000;
export const COMMIT = '0123456789abcdef0123456789abcdef01234567';

export const BUILD: Build = {
  buildId: 'web-0123456789ab',
  pipeline: 'web',
  channel: 'stable',
  trigger: 'manual',
  baseImage: 'ubuntu-24.04',
  imageDefinition: 'web',
  sourceImageId: 'ami-0aaaaaaaaaaaaaaaa',
  sourceImageName: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260601',
  commit: COMMIT,
  executionName: 'web-ami-0aaaaaaaaaaaaaaaa-0123456-deadbeef',
  executionArn:
    'arn:aws:states:eu-west-1:123456789012:execution:image-factory:web-ami-0aaaaaaaaaaaaaaaa-0123456-deadbeef',
  startedAt: '2026-06-30T11:00:00.000Z',
  probeTimeoutSeconds: 600,
  order: { sourceCreatedAt: '2026-06-01T08:00:00.000Z', sequence: 5 },
};

export const CANDIDATE: Candidate = {
  imageId: 'ami-0ccccccccccccccc1',
  name: 'web-20260630-1100',
  createdAt: '2026-06-30T11:40:00.000Z',
  snapshotIds: ['snap-0ccccccccccccccc1'],
};

/** An image of pipeline `web`, `ageDays` old relative to NOW. */
export const imageRecord = (
  imageId: string,
  ageDays: number,
  tags: Record<string, string> = {},
): ImageRecord => ({
  imageId,
  name: `web-${imageId}`,
  createdAt: new Date(NOW.getTime() - ageDays * DAY_MS).toISOString(),
  tags: { 'factory:pipeline': 'web', ...tags },
  snapshotIds: [imageId.replace('ami-', 'snap-')],
});
