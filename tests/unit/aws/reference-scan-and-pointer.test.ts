/**
 * The two AWS adapter behaviours AWS itself forces (issue 8, defects 7 and 8):
 * - `DescribeImageReferences` takes at most 10 image ids, and a failed scan keeps the images;
 * - a `PutParameter` of an `aws:ec2:image` value is confirmed by reading the version back.
 */
import { DescribeImageReferencesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { Ec2ImageStore, IMAGE_REFERENCE_CHUNK } from '#commons/aws/ec2-image-store.js';
import { SsmChannelPointer } from '#commons/aws/ssm-channel-pointer.js';
import { mockAws } from '../helpers/aws.js';

const ec2 = mockAws(EC2Client);
const ssm = mockAws(SSMClient);
const awsError = (name: string) => Object.assign(new Error(name), { name, $metadata: {} });
const ids = (count: number) => Array.from({ length: count }, (_, i) => `ami-${String(i).padStart(8, '0')}`);

describe('Ec2ImageStore.imagesInUse', () => {
  it('asks about at most 10 images per call and merges the answers', async () => {
    // Prepare: 23 images, the 1st, 12th and 23rd referenced.
    const images = ids(23);
    ec2.on(DescribeImageReferencesCommand).callsFake((input: { ImageIds: string[] }) => ({
      ImageReferences: input.ImageIds.filter((id) => [images[0], images[11], images[22]].includes(id)).map(
        (ImageId) => ({ ImageId, ResourceType: 'ec2:Instance' }),
      ),
    }));

    // Act
    const inUse = await new Ec2ImageStore(() => new EC2Client({}), 'prod').imagesInUse(images);

    // Assess
    const calls = ec2.commandCalls(DescribeImageReferencesCommand).map((c) => c.args[0].input.ImageIds ?? []);
    expect(IMAGE_REFERENCE_CHUNK).toBe(10);
    expect(calls.map((chunk) => chunk.length)).toEqual([10, 10, 3]);
    expect(calls.flat()).toEqual(images);
    expect(inUse).toEqual([images[0], images[11], images[22]]);
  });

  it('counts every image of a chunk whose scan fails as in use, and reports it', async () => {
    // Prepare: the second chunk's call is denied.
    const images = ids(15);
    ec2
      .on(DescribeImageReferencesCommand)
      .resolvesOnce({ ImageReferences: [] })
      .rejectsOnce(awsError('UnauthorizedOperation'));
    const failures: string[][] = [];

    // Act
    const inUse = await new Ec2ImageStore(
      () => new EC2Client({}),
      'prod',
      (chunk) => failures.push([...chunk]),
    ).imagesInUse(images);

    // Assess
    expect(inUse).toEqual(images.slice(10));
    expect(failures).toEqual([images.slice(10)]);
  });
  it('counts a failed chunk as in use without a callback too (retention keeps those images)', async () => {
    // Prepare
    const images = ids(3);
    ec2.on(DescribeImageReferencesCommand).rejects(awsError('RequestLimitExceeded'));

    // Act
    const inUse = await new Ec2ImageStore(() => new EC2Client({}), 'prod').imagesInUse(images);

    // Assess
    expect(inUse).toEqual(images);
  });
});

describe('SsmChannelPointer.point', () => {
  const NAME = '/f/channels/web/stable';
  const pointer = (attempts = 3) =>
    new SsmChannelPointer(() => new SSMClient({}), '/f/channels', {
      attempts,
      intervalMs: 0,
      sleep: async () => {},
    });

  it('returns once the written version holds the image', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 4 });
    ssm
      .on(GetParameterCommand, { Name: `${NAME}:4` })
      .rejectsOnce(awsError('ParameterVersionNotFound'))
      .resolves({ Parameter: { Name: NAME, Value: 'ami-0123456789abcdef0', Version: 4 } });

    const position = await pointer().point('web', 'stable', 'ami-0123456789abcdef0');

    expect(position).toEqual({ imageId: 'ami-0123456789abcdef0', version: 4, location: NAME });
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('fails with ChannelPointerNotConfirmed when the asynchronous validation never lands', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 4 });
    ssm.on(GetParameterCommand).rejects(awsError('ParameterVersionNotFound'));

    await expect(pointer(3).point('web', 'stable', 'ami-0123456789abcdef0')).rejects.toMatchObject({
      name: 'ChannelPointerNotConfirmed',
    });
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(3);
  });

  it('passes other read errors through unchanged', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 1 });
    ssm.on(GetParameterCommand).rejects(awsError('AccessDeniedException'));

    await expect(pointer().point('web', 'stable', 'ami-0123456789abcdef0')).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });
});
