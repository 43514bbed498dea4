/**
 * The factory's events on the strict emulator: PromoteImage, rollback-channel and NotifyFailure,
 * each run as its packaged role (every call IAM-evaluated, `events:PutEvents` included), put their
 * events on the stage's bus in moto; what EventBridge delivers is read back from rule targets.
 *
 * How the delivered events are read: two rules on the default bus with CloudWatch Logs log groups
 * as targets (moto delivers a matched event to a log group as the event JSON, like EventBridge:
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html), read with
 * `FilterLogEvents`. A rule and a target rather than moto's internals, so that the README's rule
 * pattern on `Image Promoted` is itself exercised: one rule uses that pattern verbatim (it must
 * match the promotions of `web`/`stable` and nothing else), the other takes every factory event.
 * Every delivered event is validated against its JSON Schema (`schemas/events/`).
 */
import { readFileSync } from 'node:fs';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE } from '#commons/core/events.js';
import { eventProblems } from '../event-schemas.js';
import { bakeCandidate } from './doubles/packer-bake-double.js';
import { buildDocument } from './fixtures/build.js';
import {
  type AwsSide,
  importHandler,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
} from './harness.js';
import { DUMMY_AWS_ENV, MOTO_ACCOUNT_ID, TEST_REGION } from './moto.js';

const STAGE = stackSettings().STAGE;
const PASSED = {
  status: 'Success',
  attempt: 2,
  checks: [
    { name: 'imdsv2-required', ok: true, detail: 'ok' },
    { name: 'ssh-host-keys-regenerated', ok: true, detail: 'ok' },
  ],
  passed: true,
  failed: [],
  summary: '2/2 checks passed',
};

/** The README's rule pattern on Image Promoted (the JSON block after its `events-rule-pattern` marker). */
const readmePattern = (): Record<string, unknown> => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /<!-- events-rule-pattern -->\s*```json\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README has no JSON block after <!-- events-rule-pattern -->');
  return JSON.parse(block) as Record<string, unknown>;
};

let aws: AwsSide;
let events: EventBridgeClient;
let logs: CloudWatchLogsClient;
let promote: LambdaHandler<Record<string, unknown>>;
let rollback: LambdaHandler<Record<string, unknown>>;
let notifyFailure: LambdaHandler;

const GROUPS = { promotedWeb: 'factory-events-promoted-web', all: 'factory-events-all' } as const;

/** The events a rule delivered to its log group. */
const deliveredTo = async (
  group: string,
): Promise<Array<Record<string, unknown> & { 'detail-type': string }>> => {
  const { events: lines } = await logs.send(new FilterLogEventsCommand({ logGroupName: group }));
  return (lines ?? []).map((line) => JSON.parse(line.message ?? '{}'));
};

beforeAll(async () => {
  aws = await startAwsSide();
  promote = await importHandler('promote-image');
  rollback = await importHandler('rollback-channel');
  notifyFailure = await importHandler('notify-failure');
  const direct = {
    endpoint: aws.motoEndpoint,
    region: TEST_REGION,
    credentials: {
      accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    },
  };
  events = new EventBridgeClient(direct);
  logs = new CloudWatchLogsClient(direct);
  const rules: Array<[string, string, Record<string, unknown>]> = [
    ['image-promoted-web', GROUPS.promotedWeb, readmePattern()],
    ['every-factory-event', GROUPS.all, { source: [EVENT_SOURCE] }],
  ];
  for (const [rule, group, pattern] of rules) {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await events.send(new PutRuleCommand({ Name: rule, EventPattern: JSON.stringify(pattern) }));
    await events.send(
      new PutTargetsCommand({
        Rule: rule,
        Targets: [{ Id: 'log', Arn: `arn:aws:logs:${TEST_REGION}:${MOTO_ACCOUNT_ID}:log-group:${group}` }],
      }),
    );
  }
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  events?.destroy();
  logs?.destroy();
  await aws?.close();
});

describe('events on the bus', () => {
  it('promotion, a superseded build, another pipeline, rollback and a failure each put their event, valid against its schema', async () => {
    // Prepare: two builds of web/stable, an older one, and one of api.
    const older = buildDocument({ commit: '0'.repeat(40) });
    const a = await bakeCandidate(aws.ec2, buildDocument({ commit: 'a'.repeat(40) }));
    const b = await bakeCandidate(aws.ec2, buildDocument({ commit: 'b'.repeat(40) }));
    const stale = await bakeCandidate(aws.ec2, older);
    const api = await bakeCandidate(aws.ec2, buildDocument({ pipeline: 'api', commit: 'c'.repeat(40) }));

    // Act: as the state machine and the operator run them, each as its packaged role.
    await invoke(promote, { ...a, probeResult: PASSED });
    await invoke(promote, { ...b, probeResult: PASSED });
    const superseded = await invoke(promote, { ...stale, probeResult: PASSED });
    await invoke(promote, { ...api, probeResult: PASSED });
    const rolledBack = await invoke(rollback, { pipeline: 'web', channel: 'stable' });
    // No Slack webhook parameter exists here: the report fails after the event went out.
    const failed = await invokeExpectingError(notifyFailure, {
      build: buildDocument({ commit: 'd'.repeat(40) }),
      error: { Error: 'ProbeFailed', Cause: 'no-authorized-keys: /root/.ssh/authorized_keys present' },
    });

    // Assess: every factory event, each valid (log events of one millisecond have no order).
    expect(superseded).toMatchObject({ outcome: 'superseded' });
    expect(failed.name).not.toBe('EventPublishFailed');
    const all = await deliveredTo(GROUPS.all);
    const detail = (type: string, imageId?: string) =>
      all.find(
        (event) =>
          event['detail-type'] === type &&
          (imageId === undefined || (event.detail as { imageId: string }).imageId === imageId),
      )?.detail;
    expect(
      all.map((event) => `${event['detail-type']} ${(event.detail as { pipeline: string }).pipeline}`).sort(),
    ).toEqual([
      'Build Failed web',
      'Build Superseded web',
      'Image Promoted api',
      'Image Promoted web',
      'Image Promoted web',
      'Image Rolled Back web',
    ]);
    for (const event of all) {
      expect(event).toMatchObject({ source: EVENT_SOURCE, region: TEST_REGION });
      expect(eventProblems(event), event['detail-type']).toEqual([]);
    }
    expect(detail('Image Promoted', b.candidate.imageId)).toMatchObject({
      stage: STAGE,
      region: TEST_REGION,
      architecture: 'x86_64',
      imageId: b.candidate.imageId,
      previousImageId: a.candidate.imageId,
      buildId: b.build.buildId,
      commit: 'b'.repeat(40),
      sourceImageId: b.build.sourceImageId,
      probe: { summary: '2/2 checks passed', checks: 2, failed: [] },
      parameterVersion: 2,
    });
    expect(detail('Image Rolled Back')).toMatchObject({
      imageId: a.candidate.imageId,
      previousImageId: b.candidate.imageId,
      buildId: a.build.buildId,
      parameterVersion: rolledBack.parameterVersion,
      probe: null,
    });

    // The README's rule matched exactly the promotions of web/stable.
    const promotedWeb = await deliveredTo(GROUPS.promotedWeb);
    expect(promotedWeb.map((event) => (event.detail as { imageId: string }).imageId).sort()).toEqual(
      [a.candidate.imageId, b.candidate.imageId].sort(),
    );

    // Each publisher was authorized as its own role.
    const putters = new Set(
      (aws.proxy.iam?.decisions ?? [])
        .filter((d) => d.action === 'events:PutEvents' && d.result === 'Allowed')
        .map((d) => d.role),
    );
    expect([...putters].sort()).toEqual(['NotifyFailureRole', 'PromoteImageRole', 'RollbackChannelRole']);
  });
});
