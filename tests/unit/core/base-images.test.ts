import { describe, expect, it } from 'vitest';
import {
  assertTrustedSource,
  BASE_IMAGE_NAMES,
  getBaseImage,
  isTrustedOwner,
} from '#commons/core/base-images.js';
import { ForeignBaseImage, UnknownBaseImage } from '#commons/errors.js';

describe('base image catalog', () => {
  it('lists the supported base images', () => {
    expect(BASE_IMAGE_NAMES).toEqual(['ubuntu-24.04', 'ubuntu-22.04', 'al2023', 'debian-12']);
  });

  // The vendors' public parameters per architecture (sources in core/base-images.ts).
  it.each([
    [
      'ubuntu-24.04',
      '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
      '/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id',
      '099720109477',
    ],
    [
      'ubuntu-22.04',
      '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
      '/aws/service/canonical/ubuntu/server/22.04/stable/current/arm64/hvm/ebs-gp2/ami-id',
      '099720109477',
    ],
    [
      'al2023',
      '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64',
      '137112412989',
    ],
    [
      'debian-12',
      '/aws/service/debian/release/bookworm/latest/amd64',
      '/aws/service/debian/release/bookworm/latest/arm64',
      '136693071363',
    ],
  ])('%s → x86_64 %s, arm64 %s, owned by %s', (name, x86, arm, owner) => {
    const base = getBaseImage(name);
    expect(base.ssmParameters).toEqual({ x86_64: x86, arm64: arm });
    expect(isTrustedOwner(base, owner)).toBe(true);
    expect(isTrustedOwner(base, '123456789012')).toBe(false);
    expect(isTrustedOwner(base, undefined)).toBe(false);
  });

  it('throws UnknownBaseImage listing the known names', () => {
    expect(() => getBaseImage('centos-7')).toThrow(UnknownBaseImage);
    expect(() => getBaseImage('centos-7')).toThrow(/ubuntu-24\.04, ubuntu-22\.04, al2023, debian-12/);
    expect(() => getBaseImage('toString')).toThrow(UnknownBaseImage);
  });

  it('accepts a source AMI of a trusted owner and refuses any other, naming image and owners', () => {
    const base = getBaseImage('debian-12');

    expect(() =>
      assertTrustedSource(base, { imageId: 'ami-0123456789abcdef0', ownerId: '136693071363' }),
    ).not.toThrow();
    for (const ownerId of ['123456789012', undefined]) {
      const attempt = () => assertTrustedSource(base, { imageId: 'ami-0123456789abcdef0', ownerId });
      expect(attempt).toThrow(ForeignBaseImage);
      expect(attempt).toThrow(
        `source image ami-0123456789abcdef0 is owned by ${ownerId ?? 'an unknown account'}; expected owner 136693071363`,
      );
    }
  });
});
