/**
 * What the AWS bake needs from the configuration, read from the files themselves (issue 8):
 * the runner reads every variable the task definition sets and passes the builder's network and
 * instance profile to Packer; the runner image carries a supported Session Manager plugin for its
 * architecture; the CodeCommit rule sees new branches; the baseline role accepts the SSM agent the
 * AWS user data installs on every base image of the catalog. The IAM itself is evaluated call by
 * call in tests/integration (iam-evaluation).
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DEFAULT_INSTANCE_TYPES,
  instanceTypeArchitecture,
  parseArchitectures,
} from '#commons/core/architectures.js';
import { BASE_IMAGES } from '#commons/core/base-images.js';
import { distributionScope, parseDistributionSettings } from '#commons/core/distribution.js';
import { root, serverless } from './serverless-config.js';

const read = (path: string): string => readFileSync(root(path), 'utf8');
const entrypoint = read('packer/runner/entrypoint.sh');
const resources = serverless.resources.Resources as Record<string, { Properties: Record<string, unknown> }>;
const propertiesOf = (logicalId: string): Record<string, unknown> => {
  const resource = resources[logicalId];
  if (resource === undefined) throw new Error(`no resource ${logicalId} in serverless.yml`);
  return resource.Properties;
};
const container = (
  propertiesOf('PackerTaskDefinition').ContainerDefinitions as Array<{
    Environment: Array<{ Name: string; Value: unknown }>;
  }>
)[0];

/** The runner's `-var` for an environment variable (`[[ -z "${NAME:-}" ]] || args+=(-var "x=${NAME}")`). */
const packerVariableOf = (name: string): string | undefined =>
  new RegExp(`-var "([a-z_]+)=\\$\\{${name}\\}"`).exec(entrypoint)?.[1];

describe('Packer runner environment', () => {
  it.each(container?.Environment.map((entry) => entry.Name) ?? [])(
    'the task definition sets %s and the runner reads it',
    (name) => {
      expect(entrypoint).toMatch(new RegExp(`\\$\\{${name}(:-[^}]*)?\\}`));
    },
  );

  it('passes the builder subnet, security group and instance profile to Packer', () => {
    expect(packerVariableOf('BUILDER_SUBNET_ID')).toBe('aws_subnet_id');
    expect(packerVariableOf('BUILDER_SECURITY_GROUP_ID')).toBe('aws_security_group_id');
    expect(packerVariableOf('BUILDER_INSTANCE_PROFILE')).toBe('aws_iam_instance_profile');
    const sources = read('packer/sources.pkr.hcl');
    expect(sources).toMatch(/security_group_id\s+= var\.aws_security_group_id/);
    expect(sources).toMatch(/iam_instance_profile = var\.aws_iam_instance_profile/);
    // No temporary IAM resources: the stack's builder profile is the only one.
    expect(sources).not.toMatch(/temporary_iam_instance_profile_policy_document/);
  });

  it('gives Packer the stack builder profile (SSM core only) and passes only that role', () => {
    const profile = container?.Environment.find((entry) => entry.Name === 'BUILDER_INSTANCE_PROFILE');
    const builder = resources.BuilderRole?.Properties;
    const taskStatements = (
      propertiesOf('PackerTaskRole').Policies as Array<{
        PolicyDocument: { Statement: Array<Record<string, unknown>> };
      }>
    ).flatMap((policy) => policy.PolicyDocument.Statement);
    const passRole = taskStatements.filter((statement) => statement.Action === 'iam:PassRole');

    expect(profile?.Value).toEqual({ Ref: 'BuilderInstanceProfile' });
    expect(builder?.ManagedPolicyArns).toEqual([
      { 'Fn::Sub': `arn:\${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore` },
    ]);
    expect(builder?.Policies).toBeUndefined();
    expect(passRole).toEqual([
      expect.objectContaining({
        Resource: { 'Fn::GetAtt': ['BuilderRole', 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    ]);
    expect(JSON.stringify(taskStatements)).not.toMatch(/iam:(Create|Delete|Put|Add|Remove)/);
  });
});

describe('Packer runner image', () => {
  const dockerfile = read('packer/Dockerfile');
  const versions = read('tools/versions.env');

  it('installs a Session Manager plugin at or above the minimum AWS supports (1.2.764.0)', () => {
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/plugin-version-history.html
    const version = /^SESSION_MANAGER_PLUGIN_VERSION=(\d+)\.(\d+)\.(\d+)\.(\d+)$/m.exec(versions);
    const parts = version?.slice(1).map(Number) ?? [];
    const minimum = [1, 2, 764, 0];
    const cmp = parts.map((part, i) => part - (minimum[i] ?? 0)).find((delta) => delta !== 0) ?? 0;

    expect(parts).toHaveLength(4);
    expect(cmp).toBeGreaterThanOrEqual(0);
  });

  it('takes the plugin package of the image architecture (amd64 and arm64)', () => {
    expect(dockerfile).toMatch(/ARG TARGETARCH/);
    expect(dockerfile).toMatch(/amd64\) plugin_arch=ubuntu_64bit/);
    expect(dockerfile).toMatch(/arm64\) plugin_arch=ubuntu_arm64/);
    expect(dockerfile).toMatch(/plugin\/\$\{SESSION_MANAGER_PLUGIN_VERSION\}\/\$\{plugin_arch\}\//);
  });

  it('installs the pinned package of the strategy plugin that ansible/ansible.cfg selects', () => {
    // Prepare
    const config = read('ansible/ansible.cfg');
    const strategy = /^strategy\s*=\s*(\S+)$/m.exec(config)?.[1];
    const shim = read(`ansible/plugins/strategy/${strategy}.py`);
    const pinned = read('requirements.in')
      .split('\n')
      .filter((line) => /^(ansible-core|mitogen)==/.test(line));
    const runnerPins = /grep -E '\^\(([^)]*)\)==' \/opt\/image-factory\/requirements\.in/
      .exec(dockerfile)?.[1]
      ?.split('|');

    // Assess: the shim loads Mitogen's plugin, requirements.in pins both packages and the
    // runner image installs both from it (a runner without mitogen fails at the first play).
    expect(strategy).toBe('mitogen_linear');
    expect(shim).toMatch(/^from ansible_mitogen\.plugins\.strategy\.mitogen_linear import StrategyModule$/m);
    expect(pinned).toHaveLength(2);
    expect(runnerPins?.sort()).toEqual(['ansible-core', 'mitogen']);
  });

  it('matches the CPU architectures the task definition may ask for', () => {
    const params = serverless.params.default as Record<string, string>;
    expect(['X86_64', 'ARM64']).toContain(params.bakeCpuArchitecture);
  });
});

describe('pipeline names', () => {
  it('distributionRegions and distributionKmsKeyArns (the IAM scope) list exactly what `distribution` names', () => {
    const params = serverless.params.default as Record<string, string>;
    const scope = distributionScope(parseDistributionSettings(params.distribution ?? ''));
    const list = (value: string | undefined) =>
      (value ?? '')
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '')
        .sort();

    expect(list(params.distributionRegions)).toEqual(scope.regions);
    expect(list(params.distributionKmsKeyArns)).toEqual(scope.kmsKeyArns);
  });

  it('pipelineNames (the IAM tag scope) names exactly the pipelines of `pipelines`', () => {
    const params = serverless.params.default as Record<string, string>;
    const names = (params.pipelines ?? '').split(',').map((entry) => entry.split('=')[0]?.trim());

    expect((params.pipelineNames ?? '').split(',').map((name) => name.trim())).toEqual(names);
  });

  it('the instance type defaults are DEFAULT_INSTANCE_TYPES, each of its architecture, and reach the functions', () => {
    const params = serverless.params.default as Record<string, string>;
    const environment = (serverless.provider as { environment: Record<string, unknown> }).environment;

    expect({
      x86_64: { builder: params.builderInstanceType, test: params.testInstanceType },
      arm64: { builder: params.builderInstanceTypeArm64, test: params.testInstanceTypeArm64 },
    }).toEqual(DEFAULT_INSTANCE_TYPES);
    for (const [architecture, types] of Object.entries(DEFAULT_INSTANCE_TYPES)) {
      expect(instanceTypeArchitecture(types.builder)).toBe(architecture);
      expect(instanceTypeArchitecture(types.test)).toBe(architecture);
    }
    expect(environment).toMatchObject({
      ARCHITECTURES: `\${param:architectures}`,
      BUILDER_INSTANCE_TYPE: `\${param:builderInstanceType}`,
      BUILDER_INSTANCE_TYPE_ARM64: `\${param:builderInstanceTypeArm64}`,
      TEST_INSTANCE_TYPE: `\${param:testInstanceType}`,
      TEST_INSTANCE_TYPE_ARM64: `\${param:testInstanceTypeArm64}`,
    });
    // The default `architectures` is a valid setting.
    expect(() => parseArchitectures(params.architectures ?? '')).not.toThrow();
  });

  it('the runner reads the architecture and the builder instance type from BUILD_JSON', () => {
    expect(entrypoint).toContain(`ARCHITECTURE="\${ARCHITECTURE:-$(build_field architecture)}"`);
    expect(entrypoint).toContain(`-var "architecture=\${ARCHITECTURE:-x86_64}"`);
    expect(entrypoint).toMatch(/types\.get\("builder"\)/);
    expect(entrypoint).toContain(`args+=(-var "aws_instance_type=\${INSTANCE_TYPE}")`);
  });
});

describe('CodeCommit trigger rule', () => {
  it('matches new branches (referenceCreated) and pushes (referenceUpdated)', () => {
    const events = serverless.functions['codecommit-push']?.events as Array<{
      eventBridge: { pattern: { detail: { event: string[] } } };
    }>;

    expect(events[0]?.eventBridge.pattern.detail.event.sort()).toEqual([
      'referenceCreated',
      'referenceUpdated',
    ]);
  });
});

describe('baseline role on AWS', () => {
  const tasks = parse(read('ansible/roles/baseline/tasks/ssm-agent.yml')) as Array<{
    'ansible.builtin.assert'?: { that: string[] };
  }>;
  const accepted = /in \[([^\]]+)\]/
    .exec(tasks[0]?.['ansible.builtin.assert']?.that[0] ?? '')?.[1]
    ?.split(',')
    .map((method) => method.trim().replace(/'/g, ''));
  /** The vars file the role's first_found picks for a catalog base image. */
  const varsFile: Record<string, string> = {
    'debian-12': 'Debian.yml',
    'ubuntu-24.04': 'Ubuntu.yml',
    'ubuntu-22.04': 'Ubuntu.yml',
    al2023: 'Amazon-2023.yml',
  };

  it.each(Object.keys(BASE_IMAGES))('%s: the SSM agent install method is one the role accepts', (base) => {
    const vars = parse(read(`ansible/roles/baseline/vars/${varsFile[base]}`)) as Record<string, string>;

    expect(accepted).toContain(vars.__baseline_ssm_agent_install);
    expect(vars.__baseline_ssm_agent_package).toBe('amazon-ssm-agent');
  });
});
