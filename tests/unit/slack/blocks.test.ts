import { describe, expect, it } from 'vitest';
import { toSlackMessage } from '#commons/slack/blocks.js';

describe('slack rendering', () => {
  it('renders header, fields, escaped detail and a link button', () => {
    const message = toSlackMessage({
      outcome: 'failure',
      title: 'web: build failed in CheckProbeResult',
      fields: Array.from({ length: 12 }, (_, i) => ({
        label: `F${i}`,
        value: i === 0 ? '<script>&' : `v${i}`,
      })),
      detail: 'a < b',
      link: { label: 'Execution', url: 'https://example.com/x' },
    });
    expect(message.text).toBe(':x: web: build failed in CheckProbeResult');
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'actions']);
    expect(JSON.stringify(message.blocks[1])).toContain('&lt;script&gt;&amp;');
    expect((message.blocks[1] as { fields: unknown[] }).fields).toHaveLength(10);
    expect(JSON.stringify(message.blocks[3])).toContain('a &lt; b');
  });
});
