import { describe, expect, it } from 'vitest';
import { toSlackMessage } from '#commons/slack/blocks.js';

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
