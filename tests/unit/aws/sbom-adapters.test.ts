import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_SBOM_BYTES, parseS3Uri, S3SbomStore } from '#commons/aws/s3-sbom-store.js';
import { SbomUnreadable } from '#commons/errors.js';

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

/** The part of the SDK's streaming body the store reads. */
const body = (text: string) => ({ transformToString: async () => text }) as never;
const store = () => new S3SbomStore(() => new S3Client({ region: 'us-east-1' }), 'factory-sboms');

describe('S3SbomStore', () => {
  it('reads s3://<its bucket>/sboms/… with GetObject', async () => {
    s3.on(GetObjectCommand, { Bucket: 'factory-sboms', Key: 'sboms/web/b.cdx.json' }).resolves({
      Body: body('{"bomFormat":"CycloneDX"}'),
      ContentLength: 25,
    });

    expect(await store().read('s3://factory-sboms/sboms/web/b.cdx.json')).toBe('{"bomFormat":"CycloneDX"}');
  });

  it.each([
    ['a file:// URI', 'file:///etc/passwd', /not an s3:\/\/ URI/],
    [
      'another bucket',
      's3://elsewhere/sboms/web/b.cdx.json',
      /outside the stack's SBOM store s3:\/\/factory-sboms\/sboms\//,
    ],
    ['another prefix', 's3://factory-sboms/other/b.cdx.json', /outside the stack's SBOM store/],
  ])('refuses %s without calling S3', async (_what, uri, message) => {
    await expect(store().read(uri)).rejects.toThrow(SbomUnreadable);
    await expect(store().read(uri)).rejects.toThrow(message);
    expect(s3.calls()).toHaveLength(0);
  });

  it('names S3`s refusal, and refuses an object over the bound', async () => {
    s3.on(GetObjectCommand, { Key: 'sboms/web/gone.cdx.json' }).rejects(
      Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' }),
    );
    s3.on(GetObjectCommand, { Key: 'sboms/web/huge.cdx.json' }).resolves({
      Body: body('{}'),
      ContentLength: MAX_SBOM_BYTES + 1,
    });

    await expect(store().read('s3://factory-sboms/sboms/web/gone.cdx.json')).rejects.toThrow(
      'cannot read the SBOM at s3://factory-sboms/sboms/web/gone.cdx.json: NoSuchKey: The specified key does not exist.',
    );
    await expect(store().read('s3://factory-sboms/sboms/web/huge.cdx.json')).rejects.toThrow(
      /over the \d+-byte bound/,
    );
  });

  it('parses s3:// URIs', () => {
    expect(parseS3Uri('s3://b/k/x.json')).toEqual({ bucket: 'b', key: 'k/x.json' });
    expect(parseS3Uri('s3://b')).toBeUndefined();
  });
});
