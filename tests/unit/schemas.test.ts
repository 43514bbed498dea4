import { describe, expect, it } from 'vitest';
import { InvalidInput } from '#commons/errors.js';
import { ExecutionInput } from '#commons/execution-input.js';
import { ApplyRetentionInput, PrepareBuildInput, RollbackChannelInput } from '#commons/handler-inputs.js';
import { parseOrThrow } from '#commons/validation.js';
import { BUILD } from './helpers/fixtures.js';

describe('manual execution input', () => {
  it('accepts retentionDryRun, which ApplyRetention reads from the same document', () => {
    const input = ExecutionInput.parse({ pipeline: 'web', baseImage: 'al2023', retentionDryRun: true });
    const document = { ...input, build: BUILD };

    expect(input.retentionDryRun).toBe(true);
    expect(ApplyRetentionInput.parse(document).retentionDryRun).toBe(true);
  });

  it('applies defaults', () => {
    expect(ExecutionInput.parse({ pipeline: 'web', baseImage: 'al2023' })).toEqual({
      pipeline: 'web',
      baseImage: 'al2023',
      channel: 'stable',
      trigger: 'manual',
    });
  });

  it.each([
    [
      {},
      /pipeline: pipeline is required.*baseImage: baseImage is required and must be one of: ubuntu-24\.04, ubuntu-22\.04, al2023, debian-12/,
    ],
    [{ pipeline: 'Web!', baseImage: 'al2023' }, /pipeline: pipeline must be 1-32 characters/],
    [{ pipeline: 'web', baseImage: 'centos' }, /baseImage: baseImage is required and must be one of/],
    [{ pipeline: 'web', baseImage: 'al2023', channel: 'previous-stable' }, /channel: channel must not be/],
    [
      { pipeline: 'web', baseImage: 'al2023', sourceImageId: 'ami-xyz' },
      /sourceImageId: must be an image id such as "ami-0123456789abcdef0"/,
    ],
    [{ pipeline: 'web', baseImage: 'al2023', commit: 'main' }, /commit: commit must be a git commit id/],
    [
      { pipeline: 'web', baseImage: 'al2023', retentionDryRun: 'yes' },
      /retentionDryRun: retentionDryRun must be true or false/,
    ],
    [
      { pipeline: 'web', baseImage: 'al2023', imageDefinition: 'nginx' },
      /imageDefinition: imageDefinition must be one of: base, web \(got "nginx"\)/,
    ],
    [{ pipeline: 'web', baseImage: 'al2023', baseimage: 'al2023' }, /Unrecognized key.*baseimage/],
    ['web', /the execution input must be a JSON object/],
  ])('rejects %j with a message saying what is wrong', (value, message) => {
    const call = () => parseOrThrow(ExecutionInput, value, 'execution input');
    expect(call).toThrow(InvalidInput);
    expect(call).toThrow(message);
  });

  it('accepts a parent pipeline instead of a base image (layered build), channel defaulting to stable', () => {
    expect(ExecutionInput.parse({ pipeline: 'web', parent: { pipeline: 'base' } })).toEqual({
      pipeline: 'web',
      parent: { pipeline: 'base', channel: 'stable' },
      channel: 'stable',
      trigger: 'manual',
    });
  });

  it('accepts the $$.Execution wrapper and the bare input for PrepareBuild', () => {
    const bare = PrepareBuildInput.parse({ pipeline: 'web', baseImage: 'al2023' });
    expect(bare.execution).toBeUndefined();
    const wrapped = PrepareBuildInput.parse({
      input: { pipeline: 'web', baseImage: 'al2023' },
      execution: { Id: 'arn:x', Name: 'n', StartTime: '2026-01-01T00:00:00.000Z', RoleArn: 'arn:role' },
    });
    expect(wrapped.execution?.Name).toBe('n');
  });

  it('rollback input needs a pipeline and defaults the channel', () => {
    expect(RollbackChannelInput.parse({ pipeline: 'web' })).toEqual({ pipeline: 'web', channel: 'stable' });
    expect(() => parseOrThrow(RollbackChannelInput, { channel: 'stable' })).toThrow(
      /pipeline: pipeline is required/,
    );
  });
});
