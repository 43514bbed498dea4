/**
 * Reserved channel names have one source (`core/tags.ts`): the input schema, promotion and the
 * Packer variable validation all refuse exactly those, and no promoted-channel tag is one of them.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ARCHITECTURES, DEFAULT_ARCHITECTURE } from '#commons/core/architectures.js';
import { planChannelTags } from '#commons/core/promotion.js';
import {
  CANDIDATE_CHANNEL,
  isPromotedChannelTag,
  isReservedChannel,
  PREVIOUS_CHANNEL_PREFIX,
  previousChannel,
  RESERVED_CHANNELS,
  RETIRED_CHANNEL,
  ROLLED_BACK_CHANNEL,
  TAG,
} from '#commons/core/tags.js';
import { ChannelName, STAGE_NAME_PATTERN, StageName } from '#commons/schemas.js';

const reservedExamples = [...RESERVED_CHANNELS, previousChannel('stable')];

/** The block of `variable "<name>"` in packer/variables.pkr.hcl. */
const packerVariable = async (name: string): Promise<string> => {
  const hcl = await readFile(
    fileURLToPath(new URL('../../../packer/variables.pkr.hcl', import.meta.url)),
    'utf8',
  );
  const block = hcl.slice(hcl.indexOf(`variable "${name}"`));
  return block.slice(0, block.indexOf('\n}\n'));
};
/** The `validation` block of `variable "channel"` in packer/variables.pkr.hcl. */
const packerChannelValidation = (): Promise<string> => packerVariable('channel');

describe('reserved channel names', () => {
  it('are the tag values of candidate, retired and rolled-back images', () => {
    expect([...RESERVED_CHANNELS].sort()).toEqual(
      [CANDIDATE_CHANNEL, RETIRED_CHANNEL, ROLLED_BACK_CHANNEL].sort(),
    );
    expect(previousChannel('stable')).toBe(`${PREVIOUS_CHANNEL_PREFIX}stable`);
  });

  it.each(reservedExamples)('%s is refused by the input schema and by promotion', (name) => {
    expect(isReservedChannel(name)).toBe(true);
    expect(ChannelName.safeParse(name).success).toBe(false);
    expect(() => planChannelTags([], [], name)).toThrow(`"${name}" is reserved`);
  });

  it.each(['stable', 'beta', 'previously'])('%s is a channel name', (name) => {
    expect(isReservedChannel(name)).toBe(false);
    expect(ChannelName.safeParse(name).success).toBe(true);
  });

  it('names every reserved value in the schema error', () => {
    const message = ChannelName.safeParse(ROLLED_BACK_CHANNEL).error?.issues[0]?.message ?? '';

    for (const name of RESERVED_CHANNELS) expect(message).toContain(`"${name}"`);
    expect(message).toContain(`"${PREVIOUS_CHANNEL_PREFIX}"`);
  });

  it('marks no image of a channel as promoted when its tag is reserved', () => {
    for (const name of RESERVED_CHANNELS) expect(isPromotedChannelTag(name)).toBe(false);
    expect(isPromotedChannelTag(previousChannel('stable'))).toBe(true);
  });

  it('are refused by the Packer channel variable, which lists exactly them', async () => {
    // Prepare
    const validation = await packerChannelValidation();
    const listed = /!contains\(\[([^\]]*)\], var\.channel\)/.exec(validation)?.[1];
    const prefix = /!can\(regex\("\^([^"]+)", var\.channel\)\)/.exec(validation)?.[1];
    const message = /error_message\s*=\s*"([^"]*)"/.exec(validation)?.[1] ?? '';

    // Assess
    expect(JSON.parse(`[${listed}]`)).toEqual([...RESERVED_CHANNELS]);
    expect(prefix).toBe(PREVIOUS_CHANNEL_PREFIX);
    for (const name of RESERVED_CHANNELS) expect(message).toContain(name);
    expect(message).toContain(`${PREVIOUS_CHANNEL_PREFIX}*`);
  });
});

describe('stage names', () => {
  it('are validated by the Packer stage variable with the pattern of the StageName schema', async () => {
    // Prepare
    const block = await packerVariable('stage');
    const pattern = /can\(regex\("([^"]+)", var\.stage\)\)/.exec(block)?.[1];

    // Assess
    expect(pattern).toBe(STAGE_NAME_PATTERN.source);
    expect(StageName.safeParse('prod-eu').success).toBe(true);
    expect(StageName.safeParse('dev/prod').success).toBe(false);
    expect(StageName.safeParse('').success).toBe(false);
  });
});

describe('architectures in Packer', () => {
  it('the architecture variable allows exactly ARCHITECTURES, and the AMI is tagged with TAG.architecture', async () => {
    // Prepare
    const variable = await packerVariable('architecture');
    const listed = /contains\(\[([^\]]*)\], var\.architecture\)/.exec(variable)?.[1];
    const locals = await readFile(
      fileURLToPath(new URL('../../../packer/locals.pkr.hcl', import.meta.url)),
      'utf8',
    );

    // Assess
    expect(JSON.parse(`[${listed}]`)).toEqual([...ARCHITECTURES]);
    expect(/default\s*=\s*"([^"]+)"/.exec(variable)?.[1]).toBe(DEFAULT_ARCHITECTURE);
    expect(locals).toMatch(new RegExp(`"${TAG.architecture}"\\s*=\\s*var\\.architecture`));
  });

  it('no channel is named like an architecture (an arm64 track keeps its pointers under <pipeline>/arm64/)', () => {
    for (const name of ARCHITECTURES.filter((a) => /^[a-z][a-z0-9-]*$/.test(a)))
      expect(ChannelName.safeParse(name).success).toBe(false);
  });
});
