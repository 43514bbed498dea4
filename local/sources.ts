import { readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Architecture, DEFAULT_ARCHITECTURE } from '#commons/core/architectures.js';
import { getBaseImage } from '#commons/core/base-images.js';
import { InvalidInput } from '#commons/errors.js';
import type { Notification, Notifier, SourceImage, SourceImageResolver } from '#commons/ports.js';
import { assertLocalArchitecture } from '#local/architectures.js';
import { PROJECT_ROOT, runTool } from '#local/process.js';

/** Where scripts/build-base-image.sh caches the Debian 12 base images. */
export const BASE_IMAGE_DIR = path.join(PROJECT_ROOT, '.cache', 'base');

/**
 * The base image's file name stem per architecture (scripts/build-base-image.sh `NAME`):
 * `<stem>-<recipe hash>.qcow2`, with the stable symlink `<stem>.qcow2` to the current one.
 */
export const BASE_NAME: Readonly<Record<Architecture, string>> = {
  x86_64: 'debian-12',
  arm64: 'debian-12-arm64',
};

/** A file of the base image of `architecture` built from recipe `hash`: `.qcow2`, `.json`, …. */
const baseFile = (architecture: Architecture, hash: string, extension: string): string =>
  path.join(BASE_IMAGE_DIR, `${BASE_NAME[architecture]}-${hash}${extension}`);

/** `local-base-debian-12-<hash>` (x86_64) or `local-base-debian-12-arm64-<hash>`; the hash is hex, `arm64` is not. */
const LOCAL_BASE = /^local-base-(debian-12(?:-arm64)?)-([0-9a-f]{12,64})$/;

/** Architecture and recipe hash of a local base image id, or undefined for another id. Pure. */
export function parseLocalBaseImageId(
  imageId: string,
): { architecture: Architecture; hash: string } | undefined {
  const match = LOCAL_BASE.exec(imageId);
  if (!match) return undefined;
  const architecture = match[1] === BASE_NAME.arm64 ? 'arm64' : DEFAULT_ARCHITECTURE;
  return { architecture, hash: match[2] ?? '' };
}

/**
 * `SourceImageResolver` for the local backend: the local stand-in for the vendor's public AMI
 * parameter. `resolve('debian-12')` builds (or reuses, when its recipe is unchanged) the Debian 12
 * base image with scripts/build-base-image.sh and names it `local-base-debian-12-<recipe hash>`;
 * `resolve('debian-12', 'arm64')` does the same with `--arch arm64` (a UEFI disk for
 * `qemu-system-aarch64 -machine virt`), named `local-base-debian-12-arm64-<recipe hash>`, but only
 * when the local arm64 option is on (`architectures`, from {@link localArchitectures}).
 *
 * The owner reported is the base image definition's publisher (Debian's account for `debian-12`):
 * the local image is made only from Debian's own archive, so it stands for Debian's image and
 * passes the same publisher check the AWS path applies (core/base-images.ts `assertTrustedSource`).
 * Other base images (Ubuntu, Amazon Linux) exist only on AWS.
 */
export class LocalBaseImageResolver implements SourceImageResolver {
  constructor(
    private readonly options: {
      onLine?: (line: string) => void;
      signal?: AbortSignal;
      /** The architectures it resolves (default x86_64 only: `localArchitectures`). */
      architectures?: readonly Architecture[];
    } = {},
  ) {}

  /**
   * @throws InvalidInput for an architecture that is not enabled (the message names the opt-in) or
   *   a base image that exists only on AWS; what the build script throws when it fails.
   */
  async resolve(baseImage: string, architecture: Architecture = DEFAULT_ARCHITECTURE): Promise<SourceImage> {
    const base = getBaseImage(baseImage);
    assertLocalArchitecture(architecture, this.options.architectures ?? [DEFAULT_ARCHITECTURE]);
    if (!base.local) {
      throw new InvalidInput(
        `base image ${baseImage} is only available on AWS; the local backend bakes from: debian-12`,
      );
    }
    const { onLine, signal } = this.options;
    await runTool('bash', ['scripts/build-base-image.sh', '--arch', architecture], {
      ...(onLine ? { onLine } : {}),
      ...(signal ? { signal } : {}),
    });
    const name = BASE_NAME[architecture];
    const target = await readlink(path.join(BASE_IMAGE_DIR, `${name}.qcow2`));
    const hash = new RegExp(`^${name}-([0-9a-f]{12,64})\\.qcow2$`).exec(path.basename(target))?.[1];
    if (!hash) throw new Error(`unexpected base image link target ${target}`);
    return this.record(architecture, hash, await this.createdAt(architecture, hash));
  }

  async describe(imageId: string): Promise<SourceImage | undefined> {
    const parsed = parseLocalBaseImageId(imageId);
    if (!parsed) return undefined;
    const { architecture, hash } = parsed;
    try {
      await readFile(baseFile(architecture, hash, '.json'));
    } catch {
      return undefined;
    }
    return this.record(architecture, hash, await this.createdAt(architecture, hash));
  }

  /**
   * Path of the qcow2 behind a local base image id.
   * @throws InvalidInput for an id that is not a local base image id.
   */
  static pathOf(imageId: string): string {
    const parsed = parseLocalBaseImageId(imageId);
    if (!parsed) throw new InvalidInput(`not a local base image id: ${imageId}`);
    return baseFile(parsed.architecture, parsed.hash, '.qcow2');
  }

  /** When the base image was built: the modification time of its disk (ISO 8601). */
  private async createdAt(architecture: Architecture, hash: string): Promise<string> {
    return (await stat(baseFile(architecture, hash, '.qcow2'))).mtime.toISOString();
  }

  private record(architecture: Architecture, hash: string, createdAt: string): SourceImage {
    const name = `${BASE_NAME[architecture]}-${hash}`;
    return {
      imageId: `local-base-${name}`,
      name,
      ownerId: getBaseImage('debian-12').owners[0],
      createdAt,
      // scripts/build-base-image.sh --arch: debootstrap --arch=amd64 or arm64.
      architecture,
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
