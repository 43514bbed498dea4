/**
 * The consumers' snippets of docs/consumers.md work (issue 10 point 7):
 * - `docs/consumers/web-stable-fleet.yaml` (a launch template on `resolve:ssm:<pointer>`, a group
 *   tagged for the rollout, a rule on `Image Promoted`) passes cfn-lint, names exactly the pointer
 *   the packaged stack's promotion writes, and its rule matches the factory's own `Image Promoted`
 *   events of that stage's web/stable and nothing else: the rule is put on the emulator's bus with
 *   a CloudWatch Logs target (as in events.test.ts; moto's `TestEventPattern` is a no-op that
 *   answers nothing), the events are built by `core/events.ts`, valid against their JSON Schemas,
 *   and what the rule delivered is read back;
 * - `docs/consumers/web-stable.tf` (an `aws_ssm_parameter` data source, the same launch template
 *   and group) names the same pointer and passes `terraform fmt -check` and `terraform validate`
 *   where Terraform and its AWS provider are installed (TF_PLUGIN_DIR, default /opt/tf-plugins;
 *   the validation never downloads a provider).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SsmChannelPointer } from '#commons/aws/ssm-channel-pointer.js';
import { buildSuperseded, EVENT_SOURCE, type FactoryEvent, imagePromoted } from '#commons/core/events.js';
import { eventProblems } from '../event-schemas.js';
import { type AwsSide, SETUP_TIMEOUT_MS, stackSettings, startAwsSide } from './harness.js';
import { DUMMY_AWS_ENV, MOTO_ACCOUNT_ID, TEST_REGION } from './moto.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const FLEET = join(ROOT, 'docs/consumers/web-stable-fleet.yaml');
const TERRAFORM = join(ROOT, 'docs/consumers/web-stable.tf');
/** The stage of the packaged stack (`dev`) and the pointer its promotions of web/stable write. */
const STAGE = stackSettings().STAGE;
const POINTER = new SsmChannelPointer(() => {
  throw new Error('no SSM call here');
}, stackSettings().CHANNEL_PARAMETER_PREFIX).parameterName('web', 'stable');

/** The fleet template with its intrinsic functions as plain objects (`!Ref x` → `{ Ref: x }`). */
const fleet = (): { Resources: Record<string, { Properties: Record<string, unknown> }> } =>
  parse(readFileSync(FLEET, 'utf8'), {
    customTags: ['Ref', 'Sub', 'GetAtt'].map((name) => ({
      tag: `!${name}`,
      resolve: (value: string) => ({ [name === 'Ref' ? 'Ref' : `Fn::${name}`]: value }),
    })),
  });

/** `{ Ref: FactoryStage }` → the stage, elsewhere unchanged. */
const withStage = (value: unknown, stage: string): unknown => {
  if (Array.isArray(value)) return value.map((item) => withStage(item, stage));
  if (value !== null && typeof value === 'object') {
    if ((value as { Ref?: string }).Ref === 'FactoryStage') return stage;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withStage(item, stage)]));
  }
  return value;
};

/** An event as a rule sees it (the envelope EventBridge adds to what the factory puts). */
const envelope = (event: FactoryEvent) => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': event.detailType,
  source: EVENT_SOURCE,
  account: '123456789012',
  time: '2026-11-30T21:14:05Z',
  region: TEST_REGION,
  resources: [],
  detail: event.detail,
});

const promoted = (stage: string, channel: string) =>
  imagePromoted(
    { stage, region: TEST_REGION },
    {
      build: { buildId: 'web-3f2a9c1b7d4e', pipeline: 'web', channel, baseImage: 'ubuntu-24.04' },
      image: { imageId: 'ami-0123456789abcdef0', tags: {}, architecture: 'x86_64' },
      previousImageId: 'ami-0fedcba9876543210',
      pointer: { parameterName: POINTER, parameterVersion: 7 },
      probe: { status: 'Success', checks: [{ name: 'sshd', ok: true }], failed: [] },
    },
  );

let aws: AwsSide;
let events: EventBridgeClient;
let logs: CloudWatchLogsClient;

beforeAll(async () => {
  aws = await startAwsSide();
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
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  events?.destroy();
  logs?.destroy();
  await aws?.close();
});

describe('docs/consumers.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/consumers.md'), 'utf8');
  /** The fenced block after `<!-- consumers:<name> -->`. */
  const block = (name: string): string | undefined =>
    new RegExp(`<!-- consumers:${name.replace(/\./g, '\\.')} -->\\s*\`\`\`[a-z]+\\n([\\s\\S]*?)\`\`\``).exec(
      doc,
    )?.[1];

  it('shows the snippet files verbatim', () => {
    expect(block('web-stable-fleet.yaml')).toBe(readFileSync(FLEET, 'utf8'));
    expect(block('web-stable.tf')).toBe(readFileSync(TERRAFORM, 'utf8'));
  });

  it("shows the fleet's rule pattern for stage prod", () => {
    expect(JSON.parse(block('rule-pattern') ?? 'null')).toEqual(
      withStage(fleet().Resources.WebStablePromoted?.Properties.EventPattern, 'prod'),
    );
  });
});

describe('docs/consumers/web-stable-fleet.yaml (CloudFormation)', () => {
  it('passes cfn-lint', () => {
    const run = spawnSync(join(ROOT, '.cache/venv/bin/cfn-lint'), [FLEET], { encoding: 'utf8' });

    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });

  it('launches from resolve:ssm:<the pointer the factory promotes> and tags the group for the rollout', () => {
    const { Resources } = fleet();
    const image = Resources.WebLaunchTemplate?.Properties.LaunchTemplateData as {
      ImageId: { 'Fn::Sub': string };
    };

    expect(image.ImageId['Fn::Sub'].replace(/\$\{FactoryStage\}/, STAGE)).toBe(`resolve:ssm:${POINTER}`);
    expect(Resources.WebGroup?.Properties.Tags).toEqual([
      { Key: 'factory:channel', Value: 'web/stable', PropagateAtLaunch: false },
    ]);
  });

  it("its rule matches the factory's Image Promoted of the stage's web/stable and nothing else", async () => {
    const pattern = withStage(fleet().Resources.WebStablePromoted?.Properties.EventPattern, STAGE);
    const superseded = buildSuperseded(
      { stage: STAGE, region: TEST_REGION },
      {
        build: { buildId: 'web-3f2a9c1b7d4e', pipeline: 'web', channel: 'stable' },
        image: { imageId: 'ami-0123456789abcdef0', tags: {} },
        currentImageId: 'ami-0fedcba9876543210',
        pointer: { parameterName: POINTER, parameterVersion: 7 },
      },
    );
    const cases: Array<[string, FactoryEvent, boolean]> = [
      ['web/stable promoted in the stage', promoted(STAGE, 'stable'), true],
      ['web/canary promoted in the stage', promoted(STAGE, 'canary'), false],
      ['web/stable promoted in another stage', promoted('prod', 'stable'), false],
      ['web/stable superseded in the stage', superseded, false],
    ];
    for (const [label, event] of cases) expect(eventProblems(envelope(event)), label).toEqual([]);
    const group = 'consumers-web-stable-promoted';
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await events.send(
      new PutRuleCommand({ Name: 'web-stable-promoted', EventPattern: JSON.stringify(pattern) }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: 'web-stable-promoted',
        Targets: [{ Id: 'log', Arn: `arn:aws:logs:${TEST_REGION}:${MOTO_ACCOUNT_ID}:log-group:${group}` }],
      }),
    );

    // Act: the events as the factory puts them (source, detail-type, detail)
    const { FailedEntryCount } = await events.send(
      new PutEventsCommand({
        Entries: cases.map(([, event]) => ({
          Source: EVENT_SOURCE,
          DetailType: event.detailType,
          Detail: JSON.stringify(event.detail),
        })),
      }),
    );
    const { events: lines } = await logs.send(new FilterLogEventsCommand({ logGroupName: group }));

    // Assess
    expect(FailedEntryCount).toBe(0);
    const delivered = (lines ?? []).map(
      (line) => JSON.parse(line.message ?? '{}') as Record<string, unknown>,
    );
    expect(delivered.map((event) => event.detail)).toEqual(
      cases.filter(([, , matches]) => matches).map(([, event]) => event.detail),
    );
  });
});

describe('docs/consumers/web-stable.tf (Terraform)', () => {
  it('reads and launches from the pointer the factory promotes, and tags the group for the rollout', () => {
    const text = readFileSync(TERRAFORM, 'utf8');
    const pointer = /web_stable_pointer\s*=\s*"([^"]+)"/.exec(text)?.[1];

    expect(pointer?.replace(/\$\{var\.factory_stage\}/, STAGE)).toBe(POINTER);
    expect(text).toMatch(/data "aws_ssm_parameter" "web_stable" \{\s*name = local\.web_stable_pointer/);
    expect(text).toMatch(/image_id\s+= "resolve:ssm:\$\{local\.web_stable_pointer\}"/);
    expect(text).toMatch(/key\s+= "factory:channel"\s+value\s+= "web\/stable"/);
  });

  const pluginDir = process.env.TF_PLUGIN_DIR ?? '/opt/tf-plugins';
  const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
  // Terraform is not part of the project's toolchain (scripts/setup.sh); validated where installed.
  it.runIf(terraform && existsSync(pluginDir))('passes terraform fmt -check and terraform validate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'factory-tf-'));
    try {
      cpSync(TERRAFORM, join(dir, 'main.tf'));
      const run = (args: string[]) =>
        spawnSync('terraform', args, {
          cwd: dir,
          encoding: 'utf8',
          env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' },
        });
      const fmt = run(['fmt', '-check', '-diff', 'main.tf']);
      expect(fmt.stdout, 'terraform fmt').toBe('');
      expect(fmt.status).toBe(0);
      const init = run(['init', '-backend=false', '-input=false', '-no-color', `-plugin-dir=${pluginDir}`]);
      expect(init.status, init.stderr).toBe(0);
      const validate = run(['validate', '-no-color']);
      expect(validate.status, validate.stderr).toBe(0);
      expect(validate.stdout).toContain('The configuration is valid.');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
