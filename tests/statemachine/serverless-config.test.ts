/**
 * serverless.yml ↔ image-factory.asl.yaml consistency: every Lambda the ASL names is deployed from
 * its handler file, finishes within its Task bound, may be invoked by the state machine role, and
 * the handler-side poll bounds stay inside the ASL's. Reads the YAML as written (no osls run).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CANDIDATE_CHANNEL,
  isPromotedChannelTag,
  RETIRED_CHANNEL,
  ROLLED_BACK_CHANNEL,
  TAG,
} from '#commons/core/tags.js';
import { lambdaFunctionKeys, readRawDefinition } from '#statemachines/definition.js';

type FunctionConfig = {
  handler: string;
  timeout?: number;
  role?: unknown;
  url?: unknown;
  events?: unknown[];
};

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const serverless = parse(readFileSync(root('serverless.yml'), 'utf8')) as {
  provider: { timeout: number; runtime: string; architecture: string; environment: Record<string, unknown> };
  functions: Record<string, FunctionConfig>;
  stepFunctions: { validate: boolean; stateMachines: Record<string, Record<string, unknown>> };
  resources: Array<ResourcesFragment | string>;
};
type ResourcesFragment = {
  Resources: Record<string, { Type?: string; Properties: Record<string, unknown> }>;
};
/** `resources` is a list of fragments, inline or `${file(…)}` includes; their Resources merged. */
const resources: ResourcesFragment['Resources'] = Object.assign(
  {},
  ...serverless.resources.map((entry) => {
    const include = typeof entry === 'string' ? /^\$\{file\(\.\/([^)]+)\)\}$/.exec(entry)?.[1] : undefined;
    if (typeof entry === 'string' && include === undefined)
      throw new Error(`unexpected resources entry ${entry}`);
    const fragment = include ? (parse(readFileSync(root(include), 'utf8')) as ResourcesFragment) : entry;
    return (fragment as ResourcesFragment).Resources;
  }),
);
const states = readRawDefinition().States as Record<string, Record<string, unknown>>;
const taskFunctions = Object.entries(lambdaFunctionKeys());
const TRIGGERS = ['watch-base-images', 'github-webhook', 'codecommit-push', 'rollback-channel'];

/** The ASL's constant for an attempt bound (`NumericGreaterThanEquals` on `variable`) in a Choice. */
function aslBound(choice: string, variable: string): number {
  const bounds: number[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node !== null && typeof node === 'object') {
      const rule = node as Record<string, unknown>;
      if (rule.Variable === variable && typeof rule.NumericGreaterThanEquals === 'number') {
        bounds.push(rule.NumericGreaterThanEquals);
      }
      Object.values(rule).forEach(visit);
    }
  };
  visit(states[choice]?.Choices);
  if (bounds.length !== 1 || bounds[0] === undefined)
    throw new Error(`no single bound on ${variable} in ${choice}`);
  return bounds[0];
}

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
    const policy = resources.ImageFactoryStateMachineRole?.Properties.Policies as {
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

  it('keeps the handler poll bounds below the ASL bounds', () => {
    const env = serverless.provider.environment;

    expect(Number(env.ONLINE_MAX_ATTEMPTS)).toBeLessThan(aslBound('IsInstanceOnline', '$.online.attempt'));
    expect(Number(env.PROBE_MAX_ATTEMPTS)).toBeLessThan(aslBound('IsProbeComplete', '$.probeResult.attempt'));
  });

  it('grants no wildcard action anywhere', () => {
    const actions = JSON.stringify(resources).match(/"Action":(\[[^\]]*\]|"[^"]*")/g) ?? [];

    expect(actions.length).toBeGreaterThan(20);
    for (const action of actions) expect(action).not.toMatch(/"\*"|:\*"/);
  });

  it('keeps every image retention can delete, and its snapshots, restorable in the Recycle Bin', () => {
    // Prepare: what retention and cleanup delete are images whose channel tag is not promoted
    const deletable = [CANDIDATE_CHANNEL, RETIRED_CHANNEL, ROLLED_BACK_CHANNEL];
    const rules = Object.values(resources).filter((resource) => resource.Type === 'AWS::Rbin::Rule');
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
    expect(days(rule('EC2_IMAGE'))).toBe(`\${param:recycleBinRetentionDays, 7}`);
  });

  it('exposes github-webhook as a public function URL (HMAC checked in code)', () => {
    expect(serverless.functions['github-webhook']?.url).toBe(true);
  });
});
