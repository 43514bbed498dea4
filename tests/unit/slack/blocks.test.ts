import { describe, expect, it } from 'vitest';
import { FIELD_TEXT_MAX, toSlackMessage } from '#commons/slack/blocks.js';

describe('slack rendering', () => {
  it('renders header, fields, escaped detail and one button per link', () => {
    const message = toSlackMessage({
      outcome: 'failure',
      title: 'web: build failed in CheckProbeResult',
      fields: Array.from({ length: 12 }, (_, i) => ({
        label: `F${i}`,
        value: i === 0 ? '<script>&' : `v${i}`,
      })),
      detail: 'a < b',
      links: [
        { label: 'Execution', url: 'https://example.com/x' },
        { label: 'Image', url: 'https://example.com/ami' },
      ],
    });
    expect(message.text).toBe(':x: web: build failed in CheckProbeResult');
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'actions']);
    expect(JSON.stringify(message.blocks[1])).toContain('&lt;script&gt;&amp;');
    expect((message.blocks[1] as { fields: unknown[] }).fields).toHaveLength(10);
    expect(JSON.stringify(message.blocks[3])).toContain('a &lt; b');
    expect((message.blocks[4] as { elements: Array<{ url: string }> }).elements.map((e) => e.url)).toEqual([
      'https://example.com/x',
      'https://example.com/ami',
    ]);
  });

  it('renders no actions block without links', () => {
    const message = toSlackMessage({ outcome: 'success', title: 't', fields: [{ label: 'a', value: 'b' }] });

    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section']);
  });
});

describe('slack rendering of long fields', () => {
  it('cuts a field over Slack`s 2000 characters (a long package diff or list of findings) with …', () => {
    const message = toSlackMessage({
      outcome: 'failure',
      title: 'web: build failed in InspectCandidate',
      fields: [
        { label: 'Vulnerabilities', value: 'x'.repeat(3000) },
        { label: 'Packages', value: 'short' },
      ],
    });
    const fields = (message.blocks[1] as { fields: Array<{ text: string }> }).fields;

    expect(fields[0]?.text).toHaveLength(FIELD_TEXT_MAX);
    expect(fields[0]?.text.endsWith('x…')).toBe(true);
    expect(fields[1]?.text).toBe('*Packages*\nshort');
  });
});
