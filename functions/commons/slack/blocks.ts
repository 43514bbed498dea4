/**
 * Slack Block Kit rendering of a pipeline report (`Notification`). Pure.
 * Block Kit reference: https://docs.slack.dev/reference/block-kit/blocks
 */
import type { Notification } from '../ports.js';

/** Slack message body: `text` (notification fallback) and Block Kit `blocks`. */
export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

const escapeMrkdwn = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Most characters of a section field's text (https://docs.slack.dev/reference/block-kit/blocks/section-block:
 * "Maximum length for the text in each item is 2000 characters"); longer values (a package diff,
 * a list of findings) are cut with `…`.
 */
export const FIELD_TEXT_MAX = 2000;

const fieldText = (label: string, value: string): string => {
  const text = `*${escapeMrkdwn(label)}*\n${escapeMrkdwn(value)}`;
  return text.length <= FIELD_TEXT_MAX ? text : `${text.slice(0, FIELD_TEXT_MAX - 1)}…`;
};

/** Render a notification as Block Kit (header, fields in groups of ≤ 10, detail, one button per link). */
export const toSlackMessage = (notification: Notification): SlackMessage => {
  const icon = notification.outcome === 'success' ? ':white_check_mark:' : ':x:';
  const blocks: Array<Record<string, unknown>> = [
    {
      type: 'header',
      text: { type: 'plain_text', text: `${icon} ${notification.title}`.slice(0, 150), emoji: true },
    },
  ];
  for (let i = 0; i < notification.fields.length; i += 10) {
    blocks.push({
      type: 'section',
      fields: notification.fields.slice(i, i + 10).map((field) => ({
        type: 'mrkdwn',
        text: fieldText(field.label, field.value),
      })),
    });
  }
  if (notification.detail) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `\`\`\`${escapeMrkdwn(notification.detail)}\`\`\`` },
    });
  }
  if (notification.links && notification.links.length > 0) {
    blocks.push({
      type: 'actions',
      // An actions block holds up to 25 elements (https://docs.slack.dev/reference/block-kit/blocks/actions-block).
      elements: notification.links.slice(0, 25).map((link) => ({
        type: 'button',
        text: { type: 'plain_text', text: link.label },
        url: link.url,
      })),
    });
  }
  return { text: `${icon} ${notification.title}`, blocks };
};
