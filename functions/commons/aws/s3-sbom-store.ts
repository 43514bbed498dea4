/**
 * The images' SBOMs in the stack's SBOM bucket (S3 `GetObject`,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ClientProvider } from '../clients/lazy-client.js';
import { SbomUnreadable } from '../errors.js';
import type { SbomStore } from '../ports.js';

/** Key prefix of every SBOM in the bucket (the runner writes `sboms/<pipeline>/<buildId>.cdx.json`). */
export const SBOM_KEY_PREFIX = 'sboms/';

/** Largest SBOM read, bytes (syft's inventory of a full Debian image is a few MB). */
export const MAX_SBOM_BYTES = 64 * 1024 * 1024;

/** Bucket and key of an `s3://bucket/key` URI, or undefined. */
export const parseS3Uri = (uri: string): { bucket: string; key: string } | undefined => {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return match ? { bucket: match[1] as string, key: match[2] as string } : undefined;
};

export class S3SbomStore implements SbomStore {
  /** @param bucket the stack's SBOM bucket (`SBOM_BUCKET`): URIs of any other bucket are refused. */
  constructor(
    private readonly s3: ClientProvider<S3Client>,
    private readonly bucket: string,
  ) {}

  /**
   * @throws SbomUnreadable for a URI that is not `s3://<bucket>/sboms/…`, an object over
   *   {@link MAX_SBOM_BYTES}, or S3's refusal (NoSuchKey, AccessDenied: its name in the message).
   */
  async read(uri: string): Promise<string> {
    const location = parseS3Uri(uri);
    if (location === undefined)
      throw new SbomUnreadable(uri, 'not an s3:// URI (the AWS backend reads S3 only)');
    if (location.bucket !== this.bucket || !location.key.startsWith(SBOM_KEY_PREFIX))
      throw new SbomUnreadable(uri, `outside the stack's SBOM store s3://${this.bucket}/${SBOM_KEY_PREFIX}`);
    try {
      const object = await this.s3().send(
        new GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
      );
      if ((object.ContentLength ?? 0) > MAX_SBOM_BYTES)
        throw new SbomUnreadable(
          uri,
          `${object.ContentLength} bytes is over the ${MAX_SBOM_BYTES}-byte bound`,
        );
      if (object.Body === undefined) throw new SbomUnreadable(uri, 'the object has no body');
      return await object.Body.transformToString('utf-8');
    } catch (error) {
      if (error instanceof SbomUnreadable) throw error;
      throw new SbomUnreadable(uri, `${(error as Error).name}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
