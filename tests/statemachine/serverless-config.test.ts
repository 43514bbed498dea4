/**
 * serverless.yml ↔ image-factory.asl.yaml consistency: every Lambda the ASL names is deployed from
 * its handler file, finishes within its Task bound, may be invoked by the state machine role (the
 * poll bounds: `./poll-bounds.test.ts`). Reads the YAML as written (no osls run), with
 * the `${file()}` includes resolved (`./serverless-config.ts`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE } from '#commons/aws/dynamodb-promotion-ledger.js';
import { DETAIL_TYPES, EVENT_SOURCE } from '#commons/core/events.js';
import {
  CANDIDATE_CHANNEL,
  isPromotedChannelTag,
  RETIRED_CHANNEL,
  ROLLED_BACK_CHANNEL,
  TAG,
} from '#commons/core/tags.js';
import { allStates, lambdaFunctionKeys, readRawDefinition } from '#statemachines/definition.js';
import { root, serverless } from './serverless-config.js';

const states = allStates(readRawDefinition().States as Record<string, unknown>) as Record<
  string,
  Record<string, unknown>
>;
const taskFunctions = Object.entries(lambdaFunctionKeys());
const TRIGGERS = [
  'watch-base-images',
  'github-webhook',
  'codecommit-push',
  'rollback-channel',
  'sweep-leftovers',
];

describe('serverless.yml', () => {
  it('targets nodejs22.x on arm64 and loads the ASL file with validation', () => {
    const machine = serverless.stepFunctions.stateMachines.imageFactory;

    expect(serverless.provider).toMatchObject({ runtime: 'nodejs22.x', architecture: 'arm64' });
    expect(serverless.stepFunctions.validate).toBe(true);
    expect(machine?.definition).toBe(`\${file(./statemachines/image-factory.asl.yaml)}`);
    expect(machine?.loggingConfig).toMatchObject({ level: 'ERROR', includeExecutionData: true });
    expect(machine?.tracingConfig).toEqual({ enabled: true });
  });

  it('declares exactly the design functions, each from functions/<key>.ts with its own role', () => {
    const keys = [...taskFunctions.map(([, key]) => key), ...TRIGGERS].sort();

    expect(Object.keys(serverless.functions).sort()).toEqual(keys);
    for (const [key, fn] of Object.entries(serverless.functions)) {
      expect(fn.handler, key).toBe(`functions/${key}.handler`);
      expect(existsSync(root(`functions/${key}.ts`)), `functions/${key}.ts`).toBe(true);
      expect(fn.role, key).toEqual({ 'Fn::Sub': expect.stringMatching(/^\$\{\w+Role\.Arn\}$/) });
    }
  });

  it.each(taskFunctions)('%s: the Lambda timeout is shorter than the Task TimeoutSeconds', (state, key) => {
    const timeout = serverless.functions[key]?.timeout ?? serverless.provider.timeout;

    expect(timeout).toBeLessThan(states[state]?.TimeoutSeconds as number);
  });

  it('lets the state machine role invoke every task function and nothing else', () => {
    const policy = serverless.resources.Resources.ImageFactoryStateMachineRole?.Properties.Policies as {
      PolicyDocument: { Statement: { Sid: string; Resource: { 'Fn::Sub': string }[] }[] };
    }[];
    const invoke = policy[0]?.PolicyDocument.Statement.find(
      (statement) => statement.Sid === 'InvokeTaskFunctions',
    );
    const suffixes = invoke?.Resource.map((resource) =>
      resource['Fn::Sub'].replace(`\${self:custom.functionArnPrefix}-`, ''),
    );

    expect(suffixes?.sort()).toEqual(taskFunctions.map(([, key]) => key).sort());
  });

  it('grants no wildcard action anywhere (a Deny may name every action: it only takes away)', () => {
    const allows = JSON.stringify(serverless.resources.Resources, (_key, value) =>
      value !== null && typeof value === 'object' && (value as { Effect?: unknown }).Effect === 'Deny'
        ? undefined
        : value,
    );
    const actions = allows.match(/"Action":(\[[^\]]*\]|"[^"]*")/g) ?? [];

    expect(actions.length).toBeGreaterThan(20);
    for (const action of actions) expect(action).not.toMatch(/"\*"|:\*"/);
  });

  it('keeps the SBOM bucket private, encrypted, TLS-only, versioned and retained on stack delete', () => {
    const resources = serverless.resources.Resources as Record<string, Record<string, unknown>>;
    const bucket = resources.SbomBucket as {
      DeletionPolicy: string;
      UpdateReplacePolicy: string;
      Properties: Record<string, unknown>;
    };
    const policy = resources.SbomBucketPolicy?.Properties as {
      PolicyDocument: { Statement: Array<Record<string, unknown>> };
    };

    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(JSON.stringify(bucket.Properties.BucketEncryption)).toContain('AES256');
    expect(policy.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it('keeps every image retention can delete, and its snapshots, restorable in the Recycle Bin', () => {
    // Prepare: what retention and cleanup delete are images whose channel tag is not promoted
    const deletable = [CANDIDATE_CHANNEL, RETIRED_CHANNEL, ROLLED_BACK_CHANNEL];
    const rules = Object.values(
      serverless.resources.Resources as Record<
        string,
        { Type?: string; Properties: Record<string, unknown> }
      >,
    ).filter((resource) => resource.Type === 'AWS::Rbin::Rule');
    const rule = (type: string) => rules.find((r) => r.Properties.ResourceType === type)?.Properties;
    const days = (properties: Record<string, unknown> | undefined) =>
      (properties?.RetentionPeriod as { RetentionPeriodValue?: string } | undefined)?.RetentionPeriodValue;

    // Assess
    expect(rules).toHaveLength(2);
    for (const type of ['EC2_IMAGE', 'EBS_SNAPSHOT']) {
      expect(rule(type)?.ResourceTags, type).toEqual(
        deletable.map((value) => ({ ResourceTagKey: TAG.channel, ResourceTagValue: value })),
      );
      expect(rule(type)?.RetentionPeriod, type).toMatchObject({ RetentionPeriodUnit: 'DAYS' });
    }
    for (const value of deletable) expect(isPromotedChannelTag(value)).toBe(false);
    // Snapshots stay at least as long as images (else a binned image cannot be restored).
    expect(days(rule('EBS_SNAPSHOT'))).toBe(days(rule('EC2_IMAGE')));
    expect(days(rule('EC2_IMAGE'))).toBe(`\${param:recycleBinRetentionDays}`);
    expect(serverless.params.default.recycleBinRetentionDays).toBe(7);
  });

  it('keeps promotion leases in an on-demand table whose TTL attribute is the ledger expiry', () => {
    const table = serverless.resources.Resources.PromotionLedgerTable as {
      Type: string;
      Properties: Record<string, unknown>;
    };

    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({
      TableName: `\${self:custom.promotionLedgerTable}`,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: LEDGER_PARTITION_KEY, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: LEDGER_TTL_ATTRIBUTE, Enabled: true },
    });
    expect(serverless.provider.environment.PROMOTION_LEDGER_TABLE).toBe(
      `\${self:custom.promotionLedgerTable}`,
    );
    expect(serverless.custom.promotionLedgerTable).toBe(`\${self:service}-\${sls:stage}-promotion-ledger`);
    expect(serverless.provider.environment.STAGE).toBe(`\${sls:stage}`);
  });

  it('is split into reviewable includes that all resolve', () => {
    const raw = parse(readFileSync(root('serverless.yml'), 'utf8')) as Record<string, unknown>;

    expect(raw.functions).toBe(`\${file(./serverless/functions.yml)}`);
    expect(raw.params).toBe(`\${file(./serverless/params.yml)}`);
    expect(raw.resources).toEqual([
      `\${file(./serverless/stack.yml)}`,
      `\${file(./serverless/state-machine.yml)}`,
      `\${file(./serverless/lambda-roles.yml)}`,
      `\${file(./serverless/packer-runner.yml)}`,
      `\${file(./serverless/resources-recycle-bin.yml)}`,
      `\${file(./serverless/guards.yml)}`,
      `\${file(./serverless/resources-promotion-ledger.yml)}`,
      `\${file(./serverless/resources-sbom-bucket.yml)}`,
    ]);
    expect(Object.keys(serverless.params.default)).toContain('bakeSubnetIds');
    expect(Object.keys(serverless.resources.Resources)).toEqual(
      expect.arrayContaining(['ImageFactoryStateMachineRole', 'PrepareBuildRole', 'PackerTaskRole']),
    );
  });

  it('sends every asynchronous trigger that keeps failing to the dead-letter queue, with alarms', () => {
    const dlq = { 'Fn::GetAtt': ['TriggerDeadLetterQueue', 'Arn'] };
    for (const key of ['watch-base-images', 'codecommit-push', 'sweep-leftovers']) {
      const fn = serverless.functions[key] as Record<string, unknown> & {
        events: Array<{ eventBridge?: Record<string, unknown> }>;
      };
      expect(fn.destinations).toEqual({ onFailure: { type: 'sqs', arn: dlq } });
      expect(fn.maximumRetryAttempts).toBe(2);
      const rules = fn.events.map((event) => event.eventBridge);
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) {
        expect(rule?.deadLetterQueueArn).toEqual(dlq);
        // The queue policy admits the stack's rules by name prefix.
        expect(String(rule?.name)).toMatch(/^\$\{self:service\}-\$\{sls:stage\}-/);
      }
    }
    const resources = serverless.resources.Resources as Record<
      string,
      { Properties: Record<string, unknown> }
    >;
    expect(JSON.stringify(resources.FailedExecutionsAlarm?.Properties)).toContain('ExecutionsFailed');
    expect(resources.TriggerDeadLetterQueueAlarm?.Properties.MetricName).toBe(
      'ApproximateNumberOfMessagesVisible',
    );
  });

  it('runs the sweeper on its schedule and on this stage’s executions that stop without succeeding', () => {
    const fn = serverless.functions['sweep-leftovers'] as unknown as Record<string, unknown> & {
      events: Array<{ eventBridge: Record<string, unknown> }>;
      environment: Record<string, string>;
    };
    const [schedule, executions] = fn.events.map((event) => event.eventBridge);

    expect(schedule?.schedule).toBe(`\${param:sweeperSchedule}`);
    expect(executions?.pattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['FAILED', 'ABORTED', 'TIMED_OUT'],
        stateMachineArn: [`\${self:custom.stateMachineArn}`],
      },
    });
    expect(fn.environment).toEqual({
      SWEEPER_GRACE_MINUTES: `\${param:sweeperGraceMinutes}`,
      SWEEPER_DRY_RUN: `\${param:sweeperDryRun}`,
    });
    expect(serverless.params.default).toMatchObject({
      sweeperSchedule: 'rate(1 hour)',
      sweeperGraceMinutes: '60',
      sweeperDryRun: 'false',
    });
  });

  it('exposes github-webhook as a public function URL (HMAC checked in code)', () => {
    expect(serverless.functions['github-webhook']?.url).toBe(true);
  });

  it('lets only the publishing functions put events: on the stage’s bus, the factory source, their own detail-types', () => {
    type Statement = {
      Action: string | string[];
      Resource: unknown;
      Condition?: { 'ForAnyValue:StringEquals'?: Record<string, string | string[]> };
    };
    const putters = Object.entries(serverless.resources.Resources).flatMap(([id, resource]) =>
      (
        (resource.Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }> | undefined) ??
        []
      )
        .flatMap((policy) => policy.PolicyDocument.Statement)
        .filter((statement) => [statement.Action].flat().includes('events:PutEvents'))
        .map((statement) => ({ id, statement })),
    );
    const types = (value: string | string[] | undefined) => [value ?? []].flat().sort();

    expect(
      Object.fromEntries(
        putters.map(({ id, statement }) => [
          id,
          types(statement.Condition?.['ForAnyValue:StringEquals']?.['events:detail-type']),
        ]),
      ),
    ).toEqual({
      PromoteImageRole: [DETAIL_TYPES.buildSuperseded, DETAIL_TYPES.imagePromoted],
      RollbackChannelRole: [DETAIL_TYPES.imageRolledBack],
      NotifyFailureRole: [DETAIL_TYPES.buildFailed],
    });
    for (const { id, statement } of putters) {
      expect(statement.Condition?.['ForAnyValue:StringEquals']?.['events:source'], id).toBe(EVENT_SOURCE);
      expect(statement.Resource, id).toEqual({
        'Fn::Sub': `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:event-bus/\${param:eventBusName}`,
      });
    }
    expect(serverless.functions['notify-failure']?.role).toEqual({ 'Fn::Sub': `\${NotifyFailureRole.Arn}` });
    expect(serverless.functions['notify-success']?.role).toEqual({ 'Fn::Sub': `\${NotifyRole.Arn}` });
    expect(serverless.params.default.eventBusName).toBe('default');
    expect(serverless.provider.environment.EVENT_BUS_NAME).toBe(`\${param:eventBusName}`);
  });

  it('gives the cost estimate the deployment’s own sizes: each copy in provider.environment pinned to its source', () => {
    // Prepare
    const env = serverless.provider.environment;
    const task = serverless.resources.Resources.PackerTaskDefinition?.Properties as {
      Cpu: string;
      Memory: string;
      RuntimePlatform: { CpuArchitecture: string };
    };
    const hcl = readFileSync(root('packer/variables.pkr.hcl'), 'utf8');
    const hclDefault = (name: string) =>
      new RegExp(`variable "${name}" \\{[^}]*?default\\s*=\\s*"?([\\w.-]+)"?`).exec(hcl)?.[1];

    // Assess
    expect(env.BAKE_TASK_CPU).toBe(task.Cpu);
    expect(env.BAKE_TASK_MEMORY).toBe(task.Memory);
    expect(env.BAKE_CPU_ARCHITECTURE).toBe(task.RuntimePlatform.CpuArchitecture);
    expect(env.BUILDER_INSTANCE_TYPE).toBe(`\${param:builderInstanceType}`);
    expect(env.BUILDER_VOLUME_GB).toBe(hclDefault('root_volume_size_gb'));
    expect(env.TEST_INSTANCE_TYPE).toBe(`\${param:testInstanceType}`);
    // The functions' memory: the provider's, which no function overrides.
    expect(env.LAMBDA_MEMORY_MB).toBe(`\${self:provider.memorySize}`);
    for (const [key, fn] of Object.entries(serverless.functions))
      expect((fn as { memorySize?: unknown }).memorySize, key).toBeUndefined();
    // The runner passes no INSTANCE_TYPE or ROOT_VOLUME_SIZE_GB: Packer's defaults are the sizes.
    const containerEnv = JSON.stringify(
      (task as unknown as { ContainerDefinitions: Array<{ Environment: unknown }> }).ContainerDefinitions,
    );
    expect(containerEnv).not.toMatch(/INSTANCE_TYPE|ROOT_VOLUME_SIZE_GB/);
    expect(JSON.stringify(states.BakeImage?.Parameters)).not.toMatch(/INSTANCE_TYPE|ROOT_VOLUME_SIZE_GB/);
  });

  it('lets only the notify functions read execution histories: of this stage’s state machine', () => {
    type Statement = { Sid?: string; Action: string | string[]; Resource: unknown };
    const readers = Object.entries(serverless.resources.Resources).flatMap(([id, resource]) =>
      (
        (resource.Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }> | undefined) ??
        []
      )
        .flatMap((policy) => policy.PolicyDocument.Statement)
        .filter((statement) => [statement.Action].flat().includes('states:GetExecutionHistory'))
        .map((statement) => ({ id, statement })),
    );

    expect(readers.map(({ id }) => id).sort()).toEqual(['NotifyFailureRole', 'NotifyRole']);
    for (const { id, statement } of readers) {
      expect(statement.Action, id).toBe('states:GetExecutionHistory');
      expect(statement.Resource, id).toEqual({
        'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${self:custom.stateMachineName}:*`,
      });
    }
  });
});
