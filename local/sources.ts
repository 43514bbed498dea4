import { readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Architecture, DEFAULT_ARCHITECTURE } from '#commons/core/architectures.js';
import { getBaseImage } from '#commons/core/base-images.js';
import { InvalidInput } from '#commons/errors.js';
import type { Notification, Notifier, SourceImage, SourceImageResolver } from '#commons/ports.js';
import { PROJECT_ROOT, runTool } from '#local/process.js';

/** Where scripts/build-base-image.sh caches the Debian 12 base image. */
export const BASE_IMAGE_DIR = path.join(PROJECT_ROOT, '.cache', 'base');

const LOCAL_BASE = /^local-base-debian-12-([0-9a-f]{12,64})$/;

/**
 * `SourceImageResolver` for the local backend: the local stand-in for the vendor's public AMI
 * parameter. `resolve('debian-12')` builds (or reuses, when its recipe is unchanged) the Debian 12
 * base image with scripts/build-base-image.sh and names it `local-base-debian-12-<recipe hash>`.
 *
 * The owner reported is the base image definition's publisher (Debian's account for `debian-12`):
 * the local image is made only from Debian's own archive, so it stands for Debian's image and
 * passes the same publisher check the AWS path applies (core/base-images.ts `assertTrustedSource`).
 * Other base images (Ubuntu, Amazon Linux) exist only on AWS.
 */
export class LocalBaseImageResolver implements SourceImageResolver {
  constructor(private readonly options: { onLine?: (line: string) => void; signal?: AbortSignal } = {}) {}

  async resolve(baseImage: string, architecture: Architecture = DEFAULT_ARCHITECTURE): Promise<SourceImage> {
    const base = getBaseImage(baseImage);
    if (architecture !== DEFAULT_ARCHITECTURE) {
      throw new InvalidInput(
        `the local backend bakes x86_64 only, not ${architecture} (README "Architectures": arm64 under qemu-system-aarch64)`,
      );
    }
    if (!base.local) {
      throw new InvalidInput(
        `base image ${baseImage} is only available on AWS; the local backend bakes from: debian-12`,
      );
    }
    await runTool('bash', ['scripts/build-base-image.sh'], this.options);
    const target = await readlink(path.join(BASE_IMAGE_DIR, 'debian-12.qcow2'));
    const hash = /^debian-12-([0-9a-f]+)\.qcow2$/.exec(path.basename(target))?.[1];
    if (!hash) throw new Error(`unexpected base image link target ${target}`);
    return this.record(hash, await this.createdAt(hash));
  }

  async describe(imageId: string): Promise<SourceImage | undefined> {
    const hash = LOCAL_BASE.exec(imageId)?.[1];
    if (!hash) return undefined;
    try {
      await readFile(path.join(BASE_IMAGE_DIR, `debian-12-${hash}.json`));
    } catch {
      return undefined;
    }
    return this.record(hash, await this.createdAt(hash));
  }

  /**
   * Path of the qcow2 behind a local base image id.
   * @throws InvalidInput for an id that is not a local base image id.
   */
  static pathOf(imageId: string): string {
    const hash = LOCAL_BASE.exec(imageId)?.[1];
    if (!hash) throw new InvalidInput(`not a local base image id: ${imageId}`);
    return path.join(BASE_IMAGE_DIR, `debian-12-${hash}.qcow2`);
  }

  /** When the base image was built: the modification time of its disk (ISO 8601). */
  private async createdAt(hash: string): Promise<string> {
    return (await stat(path.join(BASE_IMAGE_DIR, `debian-12-${hash}.qcow2`))).mtime.toISOString();
  }

  private record(hash: string, createdAt: string): SourceImage {
    return {
      imageId: `local-base-debian-12-${hash}`,
      name: `debian-12-${hash}`,
      ownerId: getBaseImage('debian-12').owners[0],
      createdAt,
      // scripts/build-base-image.sh debootstraps the host's architecture: x86_64 (README "Architectures").
      architecture: DEFAULT_ARCHITECTURE,
    };
  }
}

/**
 * `Notifier` that prints the pipeline report to the terminal (the local counterpart of Slack),
 * and forwards it to another notifier (Slack) when one is configured.
 */
export class TerminalNotifier implements Notifier {
  readonly sent: Notification[] = [];

  constructor(
    private readonly write: (text: string) => void,
    private readonly forward?: Notifier,
  ) {}

  async notify(notification: Notification): Promise<void> {
    this.sent.push(notification);
    const lines = [
      `${notification.outcome === 'success' ? '✔' : '✘'} ${notification.title}`,
      ...notification.fields.map((field) => `    ${field.label}: ${field.value}`),
      ...(notification.detail ? [`    ${notification.detail}`] : []),
    ];
    this.write(`${lines.join('\n')}\n`);
    if (this.forward) await this.forward.notify(notification);
  }
}
