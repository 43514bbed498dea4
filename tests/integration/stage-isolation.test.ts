/**
 * Stage isolation (issue 9 points 4 and 5): two stages of the factory, `dev` (the packaged stack)
 * and `prod` (the same template as `serverless package --stage prod` gives it, `stageStack`), side
 * by side in one account, with the same pipeline `web` and even the same build id.
 *
 * Each stage's handlers run with that stage's environment (its STAGE, SSM prefixes, ledger table,
 * state machine) as that stage's roles: every call is evaluated against the roles of its own
 * stack. Each stage bakes (like Packer, tagged with its `factory:stage`), finds its candidate,
 * promotes it, applies retention to an aged catalog (seeded: moto stamps `CreationDate` with
 * "now", MOTO-GAPS.md) and sweeps the leftovers of an aborted execution. After each step the other
 * stage's images, tags, pointers, instances, security groups and key pairs are exactly as before.
 * Then each stage's roles are evaluated against the other stage's resources: every destructive
 * call is denied (the number is printed).
 */
import {
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  RunInstancesCommand,
  type Tag,
} from '@aws-sdk/client-ec2';
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildId } from '#commons/core/build-key.js';
import type { Build } from '#commons/schemas.js';
import { type BakeBuild, bakeCandidate, packerRunTags } from './doubles/packer-bake-double.js';
import { buildDocument } from './fixtures/build.js';
import { amiId, PUBLISHED, vendorImages } from './fixtures/image-catalog.js';
import {
  type AwsSide,
  createStackStateMachine,
  importHandler,
  invoke,
  invokeExpectingError,
  type LambdaHandler,
  liveInstances,
  ownImages,
  packagedStack,
  SETUP_TIMEOUT_MS,
  stackSettings,
  stageStack,
  startAwsSide,
  tagsOf,
  withEnvironment,
} from './harness.js';
import { type AuthorizationRequest, type IamAuthorizer, stageRoleId } from './iam/authorizer.js';
import type { Stack } from './iam/stack.js';
import { MOTO_ACCOUNT_ID, type MotoServer, startMotoServer } from './moto.js';

const DAY_MS = 86_400_000;
const NOW = Math.floor(Date.now() / 1000) * 1000;
const STEP_TIMEOUT_MS = 180_000;
const STAGES = ['dev', 'prod'] as const;
type StageName = (typeof STAGES)[number];

const prodStack = stageStack('prod');
const stacks: Record<StageName, Stack> = { dev: packagedStack(), prod: prodStack };

/** Per stage: three expired retired images and one recent one, pipeline `web`. */
const AGES = { old1: 40, old2: 50, old3: 60, recent: 2 } as const;
const seededId = (stage: StageName, key: keyof typeof AGES): string =>
  amiId(stage === 'dev' ? 0x5d0 : 0x5e0, Object.keys(AGES).indexOf(key) + 1);
const seedImages = () =>
  STAGES.flatMap((stage) =>
    (Object.keys(AGES) as Array<keyof typeof AGES>).map((key) => ({
      imageId: seededId(stage, key),
      name: `web-${stage}-${key}`,
      ownerId: MOTO_ACCOUNT_ID,
      createdAt: new Date(NOW - AGES[key] * DAY_MS).toISOString().replace(/\.\d{3}Z$/, '.000Z'),
      tags: {
        'factory:stage': stage,
        'factory:pipeline': 'web',
        'factory:build-id': `web-${stage}-${key}`,
        'factory:channel': 'retired',
      },
    })),
  );

interface StageHandlers {
  find: LambdaHandler<{ imageId: string }>;
  promote: LambdaHandler<{ imageId: string; parameterName: string }>;
  retention: LambdaHandler<{ outcomes: Array<{ imageId: string; outcome: string }> }>;
  sweep: LambdaHandler<{ outcomes: Array<{ id: string; kind: string; outcome: string }> }>;
}

let moto: MotoServer;
let aws: AwsSide;
let iam: IamAuthorizer;
const handlers = {} as Record<StageName, StageHandlers>;
const envOf = {} as Record<StageName, Record<string, string>>;
const builds = {} as Record<StageName, Build>;
const candidates = {} as Record<StageName, string>;
let denials = 0;

const COMMON_ENV = {
  PIPELINES: 'web=ubuntu-24.04',
  RETENTION_KEEP_LATEST: '1',
  RETENTION_MAX_AGE_DAYS: '30',
  RETENTION_DRY_RUN: 'false',
  SWEEPER_GRACE_MINUTES: '0',
  SWEEPER_DRY_RUN: 'false',
};

const importStage = async (stage: StageName): Promise<StageHandlers> => {
  const scope = stage === 'dev' ? undefined : { stack: stacks[stage], env: envOf[stage] };
  return {
    find: await importHandler('find-candidate-image', scope),
    promote: await importHandler('promote-image', scope),
    retention: await importHandler('apply-retention', scope),
    sweep: await importHandler('sweep-leftovers', scope),
  };
};

/** Everything of the account that carries a `factory:stage` tag, by stage: id → tags (images, instances, groups, key pairs). */
const inventory = async (stage: StageName): Promise<Record<string, Record<string, string>>> => {
  const of = <T extends { Tags?: Tag[] }>(items: T[], idOf: (item: T) => string | undefined) =>
    items
      .filter((item) => tagsOf(item)['factory:stage'] === stage)
      .map((item) => [idOf(item) ?? '', tagsOf(item)] as const);
  const groups = (await aws.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  const keys = (await aws.ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? [];
  return Object.fromEntries([
    ...of(await ownImages(aws.ec2), (i) => i.ImageId),
    ...of(await liveInstances(aws.ec2), (i) => i.InstanceId),
    ...of(groups, (g) => g.GroupId),
    ...of(keys, (k) => k.KeyName),
  ]);
};

/** The stage's channel pointers (name → value). */
const pointers = async (stage: StageName): Promise<Record<string, string>> => {
  const { Parameters } = await aws.ssm.send(
    new GetParametersByPathCommand({
      Path: stackSettings(stacks[stage]).CHANNEL_PARAMETER_PREFIX,
      Recursive: true,
    }),
  );
  return Object.fromEntries((Parameters ?? []).map((p) => [p.Name ?? '', p.Value ?? '']));
};

/** Run `step` for `stage` and show that nothing of the other stage changed. */
const untouchedOther = async (stage: StageName, step: () => Promise<void>): Promise<void> => {
  const other: StageName = stage === 'dev' ? 'prod' : 'dev';
  const before = { resources: await inventory(other), pointers: await pointers(other) };
  await step();
  expect({ resources: await inventory(other), pointers: await pointers(other) }).toEqual(before);
};

const bakeOf = (stage: StageName, build: Build): BakeBuild => ({
  stage,
  buildId: build.buildId,
  pipeline: build.pipeline,
  executionName: build.executionName,
  sourceImageId: build.sourceImageId,
  sourceImageName: build.sourceImageName,
});

beforeAll(async () => {
  moto = await startMotoServer({ images: [...vendorImages(), ...seedImages()] });
  aws = await startAwsSide({ motoEndpoint: moto.endpoint, otherStages: [prodStack], env: COMMON_ENV });
  iam = aws.proxy.iam as IamAuthorizer;
  // Like Packer's snapshot_tags: each seeded image's snapshot carries the image's tags.
  for (const image of await ownImages(aws.ec2)) {
    const snapshotId = image.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId;
    if (snapshotId && (image.Tags ?? []).length > 0)
      await aws.ec2.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: image.Tags }));
  }
  for (const stage of STAGES) {
    envOf[stage] = { ...stackSettings(stacks[stage]), ...COMMON_ENV };
    await createStackStateMachine(aws, stacks[stage]);
  }
  handlers.dev = await importStage('dev');
  // prod's handlers are a second cold start: fresh modules, read with prod's environment.
  vi.resetModules();
  handlers.prod = await withEnvironment(envOf.prod, () => importStage('prod'));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  console.log(`stage isolation: ${denials} cross-stage calls denied as required`);
  await aws?.close();
  await moto?.stop();
});

describe('two stages in one account (issue 9 point 4)', () => {
  it('the stages are distinct stacks: their own state machine, ledger table, prefixes and roles', () => {
    const [dev, prod] = [stackSettings(stacks.dev), stackSettings(stacks.prod)];
    expect([dev.STAGE, prod.STAGE]).toEqual(['dev', 'prod']);
    for (const key of ['STATE_MACHINE_ARN', 'PROMOTION_LEDGER_TABLE', 'CHANNEL_PARAMETER_PREFIX'] as const)
      expect(prod[key]).not.toBe(dev[key]);
    expect(prod.CHANNEL_PARAMETER_PREFIX).toBe('/image-factory/prod/channels');
    expect(prod.LAST_SEEN_PARAMETER_PREFIX).toBe('/image-factory/prod/last-seen');
    expect(stacks.prod.arn('PromoteImageRole')).not.toBe(stacks.dev.arn('PromoteImageRole'));
  });

  it.each(STAGES)(
    '%s bakes, finds and promotes its candidate; the other stage is untouched',
    async (stage) => {
      // Same pipeline, same execution name, so the same build id in both stages.
      builds[stage] = buildDocument({ pipeline: 'web', commit: 'a'.repeat(40) });
      await untouchedOther(stage, async () => {
        const baked = await bakeCandidate(aws.ec2, bakeOf(stage, builds[stage]));
        candidates[stage] = baked.candidate.imageId;
        const found = await invoke(handlers[stage].find, { build: builds[stage] });
        expect(found.imageId).toBe(baked.candidate.imageId);
        const promoted = await invoke(handlers[stage].promote, {
          build: builds[stage],
          candidate: baked.candidate,
        });
        expect(promoted).toMatchObject({
          imageId: baked.candidate.imageId,
          parameterName: `/image-factory/${stage}/channels/web/stable`,
        });
      });
      const value = await aws.ssm.send(
        new GetParameterCommand({ Name: `/image-factory/${stage}/channels/web/stable` }),
      );
      expect(value.Parameter?.Value).toBe(candidates[stage]);
    },
    STEP_TIMEOUT_MS,
  );

  it('a stage never finds the other stage’s candidate, even with the same build id', async () => {
    expect(builds.dev.buildId).toBe(builds.prod.buildId);
    const images = (
      await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [candidates.dev, candidates.prod] }))
    ).Images;
    expect(images?.map((i) => tagsOf(i)['factory:stage']).sort()).toEqual(['dev', 'prod']);
    // A build id only the other stage has: CandidateNotFound, not the other stage's image.
    const prodOnly = buildDocument({ pipeline: 'web', commit: 'b'.repeat(40) });
    await bakeCandidate(aws.ec2, bakeOf('prod', prodOnly));
    const error = await invokeExpectingError(handlers.dev.find, { build: prodOnly });
    expect(error.name).toBe('CandidateNotFound');
  });

  it.each(STAGES)(
    '%s retention deregisters its own expired images only',
    async (stage) => {
      await untouchedOther(stage, async () => {
        const report = await invoke(handlers[stage].retention, { build: builds[stage] });
        const deregistered = report.outcomes
          .filter((o) => o.outcome === 'deregistered')
          .map((o) => o.imageId);
        expect(deregistered.sort()).toEqual(
          [seededId(stage, 'old1'), seededId(stage, 'old2'), seededId(stage, 'old3')].sort(),
        );
        const other: StageName = stage === 'dev' ? 'prod' : 'dev';
        const seen = report.outcomes.map((o) => o.imageId);
        for (const key of Object.keys(AGES) as Array<keyof typeof AGES>)
          expect(seen).not.toContain(seededId(other, key));
        expect(seen).not.toContain(candidates[other]);
      });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'each sweep removes its own stage’s leftovers of an aborted execution, never the other stage’s',
    async () => {
      // Prepare: the same execution name aborted in both stages' state machines, and what Packer
      // had made for it in each stage.
      const name = `web-stable-aborted-${Date.now()}`;
      const left = {} as Record<StageName, string[]>;
      for (const stage of STAGES) {
        const { executionArn = '' } = await aws.sfn.send(
          new StartExecutionCommand({
            stateMachineArn: stackSettings(stacks[stage]).STATE_MACHINE_ARN,
            name,
            input: '{}',
          }),
        );
        await aws.sfn.send(new StopExecutionCommand({ executionArn }));
        const build: Build = {
          ...buildDocument({ pipeline: 'web' }),
          buildId: buildId({ pipeline: 'web', executionArn }),
          executionName: name,
          executionArn,
        };
        const runTags = Object.entries(packerRunTags(bakeOf(stage, build), new Date())).map(
          ([Key, Value]) => ({
            Key,
            Value,
          }),
        );
        const spec = (type: string) => [{ ResourceType: type as never, Tags: runTags }];
        const groupName = `packer_${stage}_${Date.now()}`;
        const { GroupId = '' } = await aws.ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: groupName,
            Description: 'Temporary group for Packer',
            TagSpecifications: spec('security-group'),
          }),
        );
        await aws.ec2.send(
          new CreateKeyPairCommand({ KeyName: groupName, TagSpecifications: spec('key-pair') }),
        );
        const { Instances } = await aws.ec2.send(
          new RunInstancesCommand({
            ImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
            MinCount: 1,
            MaxCount: 1,
            TagSpecifications: [...spec('instance'), ...spec('volume')],
          }),
        );
        const baked = await bakeCandidate(aws.ec2, bakeOf(stage, build));
        left[stage] = [GroupId, groupName, Instances?.[0]?.InstanceId ?? '', baked.candidate.imageId];
      }

      for (const stage of STAGES) {
        // Act
        await untouchedOther(stage, async () => {
          const report = await invoke(handlers[stage].sweep, {});
          // Assess
          const removed = report.outcomes.filter((o) => o.outcome === 'removed').map((o) => o.id);
          expect(removed.sort()).toEqual([...(left[stage] ?? [])].sort());
        });
        const remaining = await inventory(stage);
        for (const id of left[stage] ?? []) expect(Object.keys(remaining)).not.toContain(id);
      }
    },
    STEP_TIMEOUT_MS,
  );
});

describe('IAM: a stage’s roles are denied destructive calls on the other stage’s resources (issue 9 point 5)', () => {
  /** Each of `role`'s authorizations of the call, evaluated as the role of `stage`'s stack. */
  const decide = async (
    stage: StageName,
    role: string,
    service: string,
    operation: string,
    input: object,
  ) => {
    const requests: AuthorizationRequest[] = await iam.requestsFor(service, operation, input as never);
    expect(requests.length).toBeGreaterThan(0);
    const id = stage === 'dev' ? role : stageRoleId(stacks[stage], role);
    const decisions = await Promise.all(requests.map((request) => iam.simulate(id, request)));
    for (const decision of decisions) expect(decision.detail, decision.resource).toBeUndefined();
    return decisions.every((d) => d.result === 'Allowed') ? 'Allowed' : 'Denied';
  };

  /** Destructive calls on a stage's resources, by role: its own stage allows each (a twin), the other denies. */
  const calls = async (owner: StageName) => {
    const resources = await inventory(owner);
    const image = candidates[owner];
    const snapshot = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [image] }))).Images?.[0]
      ?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId as string;
    const prefix = stackSettings(stacks[owner]).CHANNEL_PARAMETER_PREFIX;
    const lastSeen = stackSettings(stacks[owner]).LAST_SEEN_PARAMETER_PREFIX;
    // A fresh leftover of `owner`: a test instance (the stage's candidate is its current image).
    const testTags = {
      'factory:stage': owner,
      'factory:pipeline': 'web',
      'factory:build-id': builds[owner].buildId,
      'factory:role': 'test-instance',
    };
    const { Instances } = await aws.ec2.send(
      new RunInstancesCommand({
        ImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: Object.entries(testTags).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      }),
    );
    const instance = Instances?.[0]?.InstanceId ?? '';
    expect(Object.keys(resources)).toContain(image);
    const retag = { Resources: [image], Tags: [{ Key: 'factory:channel', Value: 'previous-stable' }] };
    return [
      ['PromoteImageRole', 'ec2', 'CreateTags', retag],
      ['RollbackChannelRole', 'ec2', 'CreateTags', retag],
      [
        'PromoteImageRole',
        'ssm',
        'PutParameter',
        { Name: `${prefix}/web/stable`, Value: image, Overwrite: true },
      ],
      [
        'RollbackChannelRole',
        'ssm',
        'PutParameter',
        { Name: `${prefix}/web/stable`, Value: image, Overwrite: true },
      ],
      [
        'WatchBaseImagesRole',
        'ssm',
        'PutParameter',
        { Name: `${lastSeen}/web`, Value: image, Overwrite: true },
      ],
      ['ApplyRetentionRole', 'ssm', 'GetParametersByPath', { Path: `${prefix}/web` }],
      ['ApplyRetentionRole', 'ec2', 'DeleteSnapshot', { SnapshotId: snapshot }],
      ['SweepLeftoversRole', 'ec2', 'DeleteSnapshot', { SnapshotId: snapshot }],
      ['TerminateTestInstanceRole', 'ec2', 'TerminateInstances', { InstanceIds: [instance] }],
      ['CleanupAfterFailureRole', 'ec2', 'TerminateInstances', { InstanceIds: [instance] }],
      ['SweepLeftoversRole', 'ec2', 'TerminateInstances', { InstanceIds: [instance] }],
      [
        'ProbeTestInstanceRole',
        'ssm',
        'SendCommand',
        { DocumentName: 'AWS-RunShellScript', InstanceIds: [instance] },
      ],
      [
        'LaunchTestInstanceRole',
        'ec2',
        'RunInstances',
        {
          ImageId: image,
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: ['instance', 'volume'].map((ResourceType) => ({
            ResourceType,
            Tags: Object.entries(testTags).map(([Key, Value]) => ({ Key, Value })),
          })),
        },
      ],
    ] as Array<[string, string, string, object]>;
  };

  /** Calls only the other stage could make: the owner's own roles refuse them too (current image, guard). */
  const alwaysDenied = (owner: StageName) => {
    const image = candidates[owner];
    return [
      ['ApplyRetentionRole', 'ec2', 'DeregisterImage', { ImageId: image }],
      ['CleanupAfterFailureRole', 'ec2', 'DeregisterImage', { ImageId: image }],
      ['SweepLeftoversRole', 'ec2', 'DeregisterImage', { ImageId: image }],
      ['PackerTaskRole', 'ec2', 'DeregisterImage', { ImageId: image }],
      [
        'PackerTaskRole',
        'ec2',
        'CreateTags',
        { Resources: [image], Tags: [{ Key: 'factory:pipeline', Value: 'web' }] },
      ],
      [
        'PackerTaskRole',
        'ec2',
        'CreateTags',
        { Resources: [image], Tags: [{ Key: 'factory:stage', Value: owner }] },
      ],
    ] as Array<[string, string, string, object]>;
  };

  it.each(STAGES)(
    'the roles of the other stage are denied on %s’s resources; its own roles are allowed',
    async (owner) => {
      const intruder: StageName = owner === 'dev' ? 'prod' : 'dev';
      for (const [role, service, operation, input] of await calls(owner)) {
        expect(await decide(owner, role, service, operation, input), `${owner} ${role} ${operation}`).toBe(
          'Allowed',
        );
        expect(
          await decide(intruder, role, service, operation, input),
          `${intruder} ${role} ${operation}`,
        ).toBe('Denied');
        denials += 1;
      }
      for (const [role, service, operation, input] of alwaysDenied(owner)) {
        for (const stage of [intruder, owner]) {
          expect(await decide(stage, role, service, operation, input), `${stage} ${role} ${operation}`).toBe(
            'Denied',
          );
          if (stage === intruder) denials += 1;
        }
      }
    },
    STEP_TIMEOUT_MS,
  );
});
