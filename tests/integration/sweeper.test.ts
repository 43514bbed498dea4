/**
 * The sweeper (`sweep-leftovers`) against moto, as its packaged role: every call goes through the
 * request validator and the IAM evaluation of `SweepLeftoversRole`.
 *
 * Each fault leaves exactly what it leaves on AWS, made the way Packer and the pipeline make it:
 * the builder instance, its temporary security group and key pair (`packer_<uuid>`, all with
 * Packer's `run_tags`, `packerRunTags`), the candidate AMI and its snapshot (`aws_tags`,
 * `bakeImageLikePacker`), the test instance (the real LaunchTestInstance handler). Each build
 * belongs to a real execution of the stack's state machine in moto (its build id is the hash of
 * that execution's ARN), which the fault then stops (StopExecution: ABORTED) or ends
 * (`ExecutionOutcomeDouble`: FAILED, since moto never runs an execution to its end).
 *
 * Faults: abort during the bake (Packer was in CreateImage), abort during the probe, Packer killed
 * (SIGKILL: no Packer cleanup; the execution failed), cleanup failing (test instance and candidate
 * left; the execution failed). Negative cases, in the same account at the same time: a running
 * execution's resources, another stage's (same execution name, the other state machine's build id),
 * another pipeline's, a protected candidate, a promoted image, a candidate a channel pointer names,
 * untagged `packer_` resources, and (with a grace period) resources too young.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  RunInstancesCommand,
  type Tag,
} from '@aws-sdk/client-ec2';
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { buildId, executionArnOf } from '#commons/core/build-key.js';
import type { Build, Candidate } from '#commons/schemas.js';
import type { SweepReport } from '#commons/steps/sweep-leftovers.js';
import { type BakeBuild, bakeImageLikePacker, packerRunTags } from './doubles/packer-bake-double.js';
import { type SlackWebhookDouble, startSlackWebhookDouble } from './doubles/slack-webhook-double.js';
import { buildDocument } from './fixtures/build.js';
import { PUBLISHED } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  createStackStateMachine,
  importHandler,
  invoke,
  type LambdaHandler,
  liveInstances,
  SETUP_TIMEOUT_MS,
  stackSettings,
  startAwsSide,
  tagsOf,
} from './harness.js';

const SOURCE = PUBLISHED['ubuntu-24.04'].current;
/** Each test makes and sweeps dozens of resources through the validator and IAM evaluation. */
const SWEEP_TIMEOUT_MS = 180_000;
const OTHER_STAGE = 'arn:aws:states:us-east-1:123456789012:stateMachine:golden-image-factory-other';

let aws: AwsSide;
let slack: SlackWebhookDouble;
let stateMachineArn: string;
let sweep: LambdaHandler<SweepReport>;
let launchTestInstance: LambdaHandler<{ instanceId: string }>;

/** One build of an execution: its build document and what it left. */
interface Started {
  label: string;
  build: Build;
  executionArn: string;
}

const toTags = (tags: Record<string, string>): Tag[] =>
  Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** Start an execution of the stack's state machine (moto: RUNNING) and the build it runs. */
const startBuild = async (label: string, pipeline = 'web'): Promise<Started> => {
  const name = `${pipeline}-stable-${label}-${randomUUID().slice(0, 8)}`;
  const { executionArn = '' } = await aws.sfn.send(
    new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ pipeline }) }),
  );
  const build: Build = {
    ...buildDocument({ pipeline }),
    buildId: buildId({ pipeline, executionArn }),
    executionName: name,
    executionArn,
  };
  return { label, build, executionArn };
};

const bakeOf = (build: Build): BakeBuild => ({
  buildId: build.buildId,
  pipeline: build.pipeline,
  executionName: build.executionName,
  sourceImageId: build.sourceImageId,
  sourceImageName: build.sourceImageName,
});

/** What Packer has made by the time it launched the builder (StepKeyPair, StepSecurityGroup, StepRunSourceInstance). */
const packerBuilder = async (build: Build, runTags = packerRunTags(bakeOf(build), new Date())) => {
  // Untagged (Packer in the China regions): no tag specification at all, as EC2 refuses an empty one.
  const spec = (types: string[]) =>
    Object.keys(runTags).length === 0
      ? undefined
      : types.map((type) => ({ ResourceType: type as never, Tags: toTags(runTags) }));
  const name = `packer_${randomUUID()}`;
  const { GroupId = '' } = await aws.ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: name,
      Description: 'Temporary group for Packer',
      TagSpecifications: spec(['security-group']),
    }),
  );
  const keyName = `packer_${randomUUID()}`;
  await aws.ec2.send(
    new CreateKeyPairCommand({
      KeyName: keyName,
      KeyType: 'rsa',
      TagSpecifications: spec(['key-pair']),
    }),
  );
  const { Instances } = await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: SOURCE.imageId,
      InstanceType: 't3.small',
      MinCount: 1,
      MaxCount: 1,
      KeyName: keyName,
      SecurityGroupIds: [GroupId],
      TagSpecifications: spec(['instance', 'volume']),
    }),
  );
  return { groupId: GroupId, keyName, instanceId: Instances?.[0]?.InstanceId ?? '' };
};

/** The candidate, as Packer registers and tags it (`aws_tags` on image and snapshot). */
const candidateOf = async (build: Build): Promise<Candidate> => {
  const baked = await bakeImageLikePacker(aws.ec2, bakeOf(build));
  return {
    imageId: baked.imageId,
    name: baked.tags.Name ?? '',
    createdAt: '',
    snapshotIds: baked.snapshotIds,
  };
};

/** The test instance, launched by the real LaunchTestInstance handler. */
const testInstanceOf = async (build: Build, candidate: Candidate) =>
  (await invoke(launchTestInstance, { build, candidate })).instanceId;

const withTag = (buildIdValue: string) => [{ Name: 'tag:factory:build-id', Values: [buildIdValue] }];

/** Every resource that carries the build id and still exists: live instances, groups, key pairs, images, snapshots. */
const resourcesOf = async (id: string): Promise<string[]> => {
  const instances = (await liveInstances(aws.ec2)).filter((i) => tagsOf(i)['factory:build-id'] === id);
  const groups =
    (await aws.ec2.send(new DescribeSecurityGroupsCommand({ Filters: withTag(id) }))).SecurityGroups ?? [];
  const keys = (await aws.ec2.send(new DescribeKeyPairsCommand({ Filters: withTag(id) }))).KeyPairs ?? [];
  const images =
    (await aws.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: withTag(id) }))).Images ?? [];
  const snapshots =
    (await aws.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: withTag(id) })))
      .Snapshots ?? [];
  return [
    ...instances.map((i) => `instance ${i.InstanceId}`),
    ...groups.map((g) => `security-group ${g.GroupId}`),
    ...keys.map((k) => `key-pair ${k.KeyName}`),
    ...images.map((i) => `image ${i.ImageId}`),
    ...snapshots.map((s) => `snapshot ${s.SnapshotId}`),
  ].sort();
};

beforeAll(async () => {
  slack = await startSlackWebhookDouble(inject('testTls'));
  aws = await startAwsSide({ env: { PIPELINES: 'web=ubuntu-24.04', SWEEPER_GRACE_MINUTES: '0' } });
  await aws.ssm.send(
    new PutParameterCommand({
      Name: stackSettings().SLACK_WEBHOOK_PARAMETER,
      Value: slack.url,
      Type: 'SecureString',
    }),
  );
  stateMachineArn = await createStackStateMachine(aws);
  sweep = await importHandler('sweep-leftovers');
  launchTestInstance = await importHandler('launch-test-instance');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await slack?.close();
  await aws?.close();
});

describe('the sweeper, fault by fault', () => {
  const faults: Array<{ fault: string; builds: Started[]; before: number; after: number }> = [];
  const bystanders: Array<{ label: string; id: string; before: string[] }> = [];

  it(
    'leaves 0 resources of any fault, and touches nothing else',
    async () => {
      // Prepare: the four faults
      const bakeAbort = await startBuild('bake-abort');
      await packerBuilder(bakeAbort.build);
      await candidateOf(bakeAbort.build);
      await aws.sfn.send(new StopExecutionCommand({ executionArn: bakeAbort.executionArn }));

      const probeAbort = await startBuild('probe-abort');
      await testInstanceOf(probeAbort.build, await candidateOf(probeAbort.build));
      await aws.sfn.send(new StopExecutionCommand({ executionArn: probeAbort.executionArn }));

      const packerKilled = await startBuild('packer-killed');
      await packerBuilder(packerKilled.build);
      aws.proxy.executions.end(packerKilled.executionArn, 'FAILED');

      const cleanupFailed = await startBuild('cleanup-failed');
      await testInstanceOf(cleanupFailed.build, await candidateOf(cleanupFailed.build));
      aws.proxy.executions.end(cleanupFailed.executionArn, 'FAILED');

      // Prepare: what must survive
      const running = await startBuild('running');
      await packerBuilder(running.build);
      await testInstanceOf(running.build, await candidateOf(running.build));

      const aborted = await startBuild('kept-images');
      await aws.sfn.send(new StopExecutionCommand({ executionArn: aborted.executionArn }));
      const protectedImage = await candidateOf(aborted.build);
      await aws.ec2.send(
        new CreateTagsCommand({
          Resources: [protectedImage.imageId],
          Tags: toTags({ 'factory:protected': 'true' }),
        }),
      );
      const pointed = await candidateOf(aborted.build);
      await aws.ssm.send(
        new PutParameterCommand({
          Name: `${stackSettings().CHANNEL_PARAMETER_PREFIX}/web/stable`,
          Value: pointed.imageId,
          Type: 'String',
          DataType: 'aws:ec2:image',
        }),
      );
      const promoted = await candidateOf(aborted.build);
      await aws.ec2.send(
        new CreateTagsCommand({
          Resources: [promoted.imageId],
          Tags: toTags({ 'factory:channel': 'stable' }),
        }),
      );

      const otherStageName = aborted.build.executionName;
      const otherStage: Build = {
        ...aborted.build,
        buildId: buildId({ pipeline: 'web', executionArn: executionArnOf(OTHER_STAGE, otherStageName) }),
      };
      await packerBuilder(otherStage);
      await candidateOf(otherStage);

      const otherPipeline = await startBuild('other-pipeline', 'api');
      await aws.sfn.send(new StopExecutionCommand({ executionArn: otherPipeline.executionArn }));
      await packerBuilder(otherPipeline.build);

      const untagged = await packerBuilder(aborted.build, {});

      for (const fault of [bakeAbort, probeAbort, packerKilled, cleanupFailed]) {
        faults.push({
          fault: fault.label,
          builds: [fault],
          before: (await resourcesOf(fault.build.buildId)).length,
          after: -1,
        });
      }
      for (const [label, id] of [
        ['running execution', running.build.buildId],
        ['protected / pointed / promoted images', aborted.build.buildId],
        ['another stage', otherStage.buildId],
        ['another pipeline', otherPipeline.build.buildId],
      ] as const) {
        bystanders.push({ label, id, before: await resourcesOf(id) });
      }
      const untaggedBefore = {
        groups: (await aws.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [untagged.groupId] })))
          .SecurityGroups,
        keys: (await aws.ec2.send(new DescribeKeyPairsCommand({ KeyNames: [untagged.keyName] }))).KeyPairs,
      };

      // Act: a dry run first, then the sweep the schedule starts
      const dry = await invoke(sweep, { dryRun: true });
      const afterDry = await Promise.all(faults.map((f) => resourcesOf(f.builds[0]?.build.buildId ?? '')));
      const report = await invoke(sweep, loadScheduledEvent());

      // Assess
      for (const fault of faults)
        fault.after = (await resourcesOf(fault.builds[0]?.build.buildId ?? '')).length;
      console.info(
        `sweeper fault matrix:\n${['| fault | resources before | after |', '|---|---|---|', ...faults.map((f) => `| ${f.fault} | ${f.before} | ${f.after} |`)].join('\n')}`,
      );
      expect(faults.map((f) => [f.fault, f.before])).toEqual([
        ['bake-abort', 5], // builder instance, security group, key pair, AMI, snapshot
        ['probe-abort', 3], // test instance, AMI, snapshot
        ['packer-killed', 3], // builder instance, security group, key pair
        ['cleanup-failed', 3], // test instance, AMI, snapshot
      ]);
      expect(faults.map((f) => f.after)).toEqual([0, 0, 0, 0]);
      expect(afterDry.map((left) => left.length)).toEqual([5, 3, 3, 3]);
      expect(dry.dryRun).toBe(true);
      expect(dry.removed).toEqual(report.removed);
      expect(report.removed).toEqual({
        'test-instance': 2,
        'build-instance': 2,
        image: 3,
        'security-group': 2,
        'key-pair': 2,
      });
      expect(report.failed).toBe(0);
      for (const bystander of bystanders) {
        expect(await resourcesOf(bystander.id), bystander.label).toEqual(bystander.before);
      }
      expect(
        (await aws.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [untagged.groupId] })))
          .SecurityGroups,
      ).toEqual(untaggedBefore.groups);
      expect(
        (await aws.ec2.send(new DescribeKeyPairsCommand({ KeyNames: [untagged.keyName] }))).KeyPairs,
      ).toEqual(untaggedBefore.keys);
      expect(
        report.outcomes
          .filter((o) => o.outcome === 'kept')
          .map((o) => [o.kind, o.reason])
          .sort(),
      ).toEqual(
        [
          ['build-instance', 'execution-running'],
          ['image', 'execution-running'],
          ['image', 'protected'],
          ['image', 'referenced'],
          ['key-pair', 'execution-running'],
          ['security-group', 'execution-running'],
          ['test-instance', 'execution-running'],
        ].sort(),
      );
      // One Slack message per run that acted, listing each resource
      const last = JSON.stringify(slack.received.at(-1));
      expect(slack.received).toHaveLength(2);
      expect(last).toContain('sweeper: removed 11 leftover(s) of 4 build(s)');
      for (const fault of faults) expect(last).toContain(fault.builds[0]?.build.executionName);
    },
    SWEEP_TIMEOUT_MS,
  );

  it(
    'a second sweep finds nothing left to do and sends nothing',
    async () => {
      const before = slack.received.length;
      const report = await invoke(sweep, loadScheduledEvent());
      expect(Object.values(report.removed)).toEqual([0, 0, 0, 0, 0]);
      expect(slack.received).toHaveLength(before);
    },
    SWEEP_TIMEOUT_MS,
  );
});

describe('the sweeper on an execution status change', () => {
  it(
    'sweeps on this state machine’s event and refuses another state machine’s',
    async () => {
      const aborted = await startBuild('event');
      await packerBuilder(aborted.build);
      await aws.sfn.send(new StopExecutionCommand({ executionArn: aborted.executionArn }));
      const event = statusChange(aborted.executionArn, 'ABORTED');

      await expect(
        invoke(sweep, { ...event, detail: { ...event.detail, stateMachineArn: OTHER_STAGE } }),
      ).rejects.toMatchObject({ name: 'InvalidInput' });
      expect(await resourcesOf(aborted.build.buildId)).toHaveLength(3);

      await invoke(sweep, event);
      expect(await resourcesOf(aborted.build.buildId)).toEqual([]);
    },
    SWEEP_TIMEOUT_MS,
  );
});

describe('the sweeper within its grace period', () => {
  it(
    'leaves a stopped build’s resources alone until they are older than SWEEPER_GRACE_MINUTES',
    async () => {
      // Prepare: the handler as deployed with a 60-minute grace period
      vi.resetModules();
      process.env.SWEEPER_GRACE_MINUTES = '60';
      const graceful = await importHandler<SweepReport>('sweep-leftovers');
      const young = await startBuild('young');
      await packerBuilder(young.build);
      await testInstanceOf(young.build, await candidateOf(young.build));
      await aws.sfn.send(new StopExecutionCommand({ executionArn: young.executionArn }));
      const before = await resourcesOf(young.build.buildId);

      // Act
      const report = await invoke(graceful, loadScheduledEvent());

      // Assess
      expect(before).toHaveLength(6); // builder and test instance, group, key pair, AMI, snapshot
      expect(await resourcesOf(young.build.buildId)).toEqual(before);
      const mine = report.outcomes.filter((o) => o.buildId === young.build.buildId);
      expect(mine).toHaveLength(5);
      expect(new Set(mine.map((o) => o.reason))).toEqual(new Set(['within-grace']));
    },
    SWEEP_TIMEOUT_MS,
  );
});

/** A real-shaped EventBridge event of `tests/events/eventbridge/<variant>.json`, cloned. */
const eventFixture = (variant: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../events/eventbridge/${variant}.json`, import.meta.url), 'utf8'));

/** The schedule's event. */
function loadScheduledEvent(): Record<string, unknown> {
  return eventFixture('scheduled');
}

/**
 * A Step Functions Execution Status Change event for an execution of this stage
 * (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
 */
function statusChange(executionArn: string, status: string) {
  const event = eventFixture('execution-status-change') as { detail: Record<string, unknown> };
  return {
    ...event,
    resources: [executionArn],
    detail: { ...event.detail, executionArn, stateMachineArn, name: executionArn.split(':').at(-1), status },
  };
}
