import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isArchitecture } from '#commons/core/architectures.js';
import { TAG } from '#commons/core/tags.js';
import type {
  ChannelPointer,
  ChannelPosition,
  ImageRecord,
  ImageStore,
  SnapshotOutcome,
} from '#commons/ports.js';

/**
 * The local image catalog: the local backend's counterpart of the account's AMIs and of the
 * SSM channel parameters. Layout under `root` (default `.factory/catalog`):
 *
 * ```
 * images/<imageId>/image.json      ImageRecord (tags, createdAt ISO 8601, snapshotIds)
 * images/<imageId>/disk.qcow2      the image's only "snapshot": its disk
 * images/<imageId>/sbom.cdx.json   its SBOM (CycloneDX 1.5), named by the `factory:sbom` tag
 * channels/<pipeline>/<channel>.json  { history: ChannelPosition[] } newest first
 * ```
 *
 * Image ids look like AMI ids (`local-img-` + 17 hex digits). Writes go to a temporary file and are
 * renamed into place, so a crash never leaves a half-written record.
 */
const CATALOG_IMAGE_ID = /^local-img-[0-9a-f]{17}$/;

/** True when `imageId` is a catalog image id (a baked or imported image, not the local base image). */
export const isCatalogImageId = (imageId: string): boolean => CATALOG_IMAGE_ID.test(imageId);

export class LocalCatalog {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Directory of one image. */
  imageDir(imageId: string): string {
    if (!isCatalogImageId(imageId)) throw new Error(`not a local image id: ${imageId}`);
    return path.join(this.root, 'images', imageId);
  }

  /** Path of an image's disk (qcow2). */
  diskPath(imageId: string): string {
    return path.join(this.imageDir(imageId), 'disk.qcow2');
  }

  /** Path of an image's SBOM (CycloneDX 1.5 JSON); the image's `factory:sbom` tag names it. */
  sbomPath(imageId: string): string {
    return path.join(this.imageDir(imageId), 'sbom.cdx.json');
  }

  /**
   * Register a baked disk as an image, the way Packer registers an AMI: the disk file is moved
   * into the catalog and the record written with the given tags.
   * @param disk path of a qcow2 file; moved, not copied.
   * @param sbom path of the image's SBOM; moved next to the disk and named by the `factory:sbom`
   *   tag (`file://<absolute path>`), like the S3 URI an AMI's tag holds.
   * @returns the new record.
   */
  async registerImage(input: {
    disk: string;
    name: string;
    tags: Record<string, string>;
    createdAt?: string;
    sbom?: string;
  }): Promise<ImageRecord> {
    const imageId = `local-img-${randomBytes(9).toString('hex').slice(0, 17)}`;
    const dir = this.imageDir(imageId);
    await mkdir(dir, { recursive: true });
    await rename(input.disk, this.diskPath(imageId));
    if (input.sbom) await rename(input.sbom, this.sbomPath(imageId));
    const record: ImageRecord = {
      imageId,
      name: input.name,
      createdAt: input.createdAt ?? new Date().toISOString(),
      tags: {
        ...input.tags,
        ...(input.sbom ? { [TAG.sbom]: pathToFileURL(this.sbomPath(imageId)).href } : {}),
      },
      snapshotIds: [`local-snap-${imageId.slice(10)}`],
    };
    await writeJson(path.join(dir, 'image.json'), record);
    return record;
  }

  /** Every image record in the catalog (unordered). */
  async listImages(): Promise<ImageRecord[]> {
    const dir = path.join(this.root, 'images');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const records: ImageRecord[] = [];
    for (const name of names) {
      const record = await readJson<ImageRecord>(path.join(dir, name, 'image.json'));
      if (record) records.push(record);
    }
    return records;
  }

  async readImage(imageId: string): Promise<ImageRecord | undefined> {
    return readJson<ImageRecord>(path.join(this.imageDir(imageId), 'image.json'));
  }

  async writeImage(record: ImageRecord): Promise<void> {
    await writeJson(path.join(this.imageDir(record.imageId), 'image.json'), record);
  }

  /** Remove an image and its disk. */
  async removeImage(imageId: string): Promise<void> {
    await rm(this.imageDir(imageId), { recursive: true, force: true });
  }

  channelFile(pipeline: string, channel: string): string {
    // `pipeline` may be a track (`core/architectures.ts`): `<pipeline>/<architecture>`.
    const [name = '', architecture, ...rest] = pipeline.split('/');
    if (rest.length > 0 || (architecture !== undefined && !isArchitecture(architecture)))
      throw new Error(`invalid pipeline or channel: ${pipeline}`);
    for (const part of [name, channel]) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(part)) throw new Error(`invalid pipeline or channel: ${part}`);
    }
    return path.join(this.root, 'channels', name, ...(architecture ? [architecture] : []), `${channel}.json`);
  }
}

/**
 * `ImageStore` over the local catalog.
 * In use = referenced by a running local test machine (the launcher's `inUse` callback), the
 * local counterpart of EC2 `DescribeImageReferences`.
 */
export class LocalImageStore implements ImageStore {
  constructor(
    private readonly catalog: LocalCatalog,
    private readonly inUse: (imageIds: readonly string[]) => Promise<string[]> = async () => [],
  ) {}

  async findImages(tags: Record<string, string>): Promise<ImageRecord[]> {
    const all = await this.catalog.listImages();
    return all.filter((image) => Object.entries(tags).every(([key, value]) => image.tags[key] === value));
  }

  getImage(imageId: string): Promise<ImageRecord | undefined> {
    return this.catalog.readImage(imageId);
  }

  async tagImage(imageId: string, tags: Record<string, string>): Promise<void> {
    const record = await this.catalog.readImage(imageId);
    if (!record) throw new Error(`image ${imageId} does not exist in ${this.catalog.root}`);
    await this.catalog.writeImage({ ...record, tags: { ...record.tags, ...tags } });
  }

  imagesInUse(imageIds: readonly string[]): Promise<string[]> {
    return this.inUse(imageIds);
  }

  async deregisterImage(imageId: string): Promise<SnapshotOutcome[]> {
    const record = await this.catalog.readImage(imageId);
    if (!record) return [];
    await this.catalog.removeImage(imageId);
    return record.snapshotIds.map((snapshotId) => ({ snapshotId, outcome: 'deleted' as const }));
  }

  /** Locally the only "parameters" are the channel files, which retention reads as pointers. */
  async imagesReferencedByParameters(): Promise<string[]> {
    return [];
  }

  /** Local images are never shared. */
  async sharedWith(): Promise<string[]> {
    return [];
  }
}

/**
 * `ChannelPointer` over `channels/<pipeline>/<channel>.json`, keeping every position so that
 * the history is the rollback trail (the local counterpart of SSM parameter versions).
 */
export class FileChannelPointer implements ChannelPointer {
  constructor(private readonly catalog: LocalCatalog) {}

  async current(pipeline: string, channel: string): Promise<ChannelPosition | undefined> {
    return (await this.history(pipeline, channel))[0];
  }

  async point(pipeline: string, channel: string, imageId: string): Promise<ChannelPosition> {
    const file = this.catalog.channelFile(pipeline, channel);
    const history = await this.history(pipeline, channel);
    const position: ChannelPosition = {
      imageId,
      version: (history[0]?.version ?? 0) + 1,
      location: file,
      updatedAt: new Date().toISOString(),
    };
    await mkdir(path.dirname(file), { recursive: true });
    await writeJson(file, { history: [position, ...history] });
    return position;
  }

  async history(pipeline: string, channel: string): Promise<ChannelPosition[]> {
    const file = this.catalog.channelFile(pipeline, channel);
    const data = await readJson<{ history: ChannelPosition[] }>(file);
    return data?.history ?? [];
  }

  async channels(pipeline: string): Promise<string[]> {
    const dir = path.dirname(this.catalog.channelFile(pipeline, 'any'));
    try {
      return (await readdir(dir)).filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -5));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }
}

const isNotFound = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: string }).code === 'ENOENT';

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, file);
}
