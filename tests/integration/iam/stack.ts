/**
 * The packaged stack (`serverless package` → `.serverless/cloudformation-template-update-stack.json`)
 * resolved the way CloudFormation would deploy it into the emulator's account and region: the
 * roles and their policies, which role each function runs as, each function's environment, the
 * Packer task definition. Intrinsics resolved: `Ref`, `Fn::GetAtt` (…Arn and the few attributes
 * the template reads), `Fn::Sub` (both forms, `${!literal}`), `Fn::Join`, `Fn::Split`, `Fn::If`, `Fn::Equals`,
 * `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`, `AWS::NoValue`. Physical names CloudFormation would
 * generate (roles, instance profiles, managed policies without a name) are the logical ids here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MOTO_ACCOUNT_ID, TEST_REGION } from '../moto.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const TEMPLATE_PATH = join(REPO_ROOT, '.serverless/cloudformation-template-update-stack.json');

/** A policy document after resolution. */
export interface PolicyDocument {
  Version?: string;
  Statement: Array<Record<string, unknown>>;
}

export interface StackRole {
  logicalId: string;
  arn: string;
  policies: Array<{ name: string; policy: PolicyDocument }>;
  /** AWS managed policies (not in the template, so not evaluated): such a role is never a caller here. */
  awsManaged: string[];
}

type Template = {
  Parameters?: Record<string, { Default?: string; Type?: string }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Condition?: string }>;
  Outputs?: Record<string, { Value: unknown; Condition?: string }>;
};

const NO_VALUE = Symbol('AWS::NoValue');

/** A rename of a template fragment: every string (values and keys) through `rename`. */
const renameAll = (node: unknown, rename: (text: string) => string): unknown => {
  if (typeof node === 'string') return rename(node);
  if (Array.isArray(node)) return node.map((item) => renameAll(item, rename));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [rename(key), renameAll(value, rename)]),
  );
};

/** `golden-image-factory-dev` → `Goldenimagefactorydev`, as the framework compacts names into logical ids. */
const compactName = (name: string): string => {
  const compact = name.replace(/[^A-Za-z0-9]/g, '');
  return compact.charAt(0).toUpperCase() + compact.slice(1);
};

export class Stack {
  readonly #template: Template;
  readonly #parameters: Record<string, string>;
  /** Prefix of the physical names CloudFormation generates (roles, instance profiles, policies). */
  readonly #physicalPrefix: string;
  #roles: Map<string, StackRole> | undefined;
  #functionRoles: Map<string, string> | undefined;

  /**
   * @param overrides CloudFormation parameter values, as `--parameter-overrides` would give them
   *   (default: the template's defaults, i.e. the stage parameters it was packaged with).
   */
  constructor(
    overrides: Record<string, string> = {},
    path = TEMPLATE_PATH,
    options: { stage?: string } = {},
  ) {
    const packaged = JSON.parse(readFileSync(path, 'utf8')) as Template;
    const packagedStage = Stack.#stageOf(packaged);
    if (options.stage === undefined || options.stage === packagedStage) {
      this.#template = packaged;
      this.#physicalPrefix = '';
    } else {
      // `serverless package --stage <stage>` differs from the packaged stage's template only where
      // ${sls:stage} was substituted: each such place holds the stage as a whole word (names
      // `<service>-<stage>-…`, prefixes `/image-factory/<stage>/…`, the factory:stage condition
      // values, STAGE, the ledger's `<stage>#` keys, the artifact folder), and the logical ids of
      // the EventBridge rules hold the compacted `Goldenimagefactory<stage>`. Checked against a
      // real `serverless package --stage prod`: identical but for the artifacts' timestamp folder.
      const word = new RegExp(`\\b${packagedStage}\\b`, 'g');
      const service = String(Stack.#stateMachineName(packaged)).slice(0, -packagedStage.length);
      const [fromId, toId] = [compactName(service + packagedStage), compactName(service + options.stage)];
      this.#template = renameAll(packaged, (text) =>
        text.replace(word, options.stage as string).replaceAll(fromId, toId),
      ) as Template;
      // Two stacks in one account: CloudFormation names their roles and profiles after the stack.
      this.#physicalPrefix = `${String(Stack.#stateMachineName(this.#template))}-`;
    }
    this.#parameters = Object.fromEntries(
      Object.entries(this.#template.Parameters ?? {}).map(([name, p]) => [
        name,
        overrides[name] ?? p.Default ?? '',
      ]),
    );
  }

  static #stateMachineName(template: Template): unknown {
    return Object.values(template.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine')
      ?.Properties?.StateMachineName;
  }

  /** The stage a template was packaged for (the functions' `STAGE`). */
  static #stageOf(template: Template): string {
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
    const stage = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables?.STAGE;
    if (typeof stage !== 'string' || stage === '') throw new Error('the packaged template names no STAGE');
    return stage;
  }

  /** The stage of this stack (`STAGE` of its functions). */
  get stage(): string {
    return Stack.#stageOf(this.#template);
  }

  /** Resolve any template fragment. */
  resolve(node: unknown): unknown {
    const value = this.#resolve(node);
    return value === NO_VALUE ? undefined : value;
  }

  /** Every IAM role of the stack with its identity policies (inline and customer managed). */
  roles(): Map<string, StackRole> {
    if (this.#roles) return this.#roles;
    const roles = new Map<string, StackRole>();
    for (const [logicalId, resource] of Object.entries(this.#template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Role') continue;
      const properties = this.resolve(resource.Properties) as {
        Policies?: Array<{ PolicyName: string; PolicyDocument: PolicyDocument }>;
        ManagedPolicyArns?: string[];
      };
      const policies = (properties.Policies ?? []).map((p) => ({
        name: p.PolicyName,
        policy: p.PolicyDocument,
      }));
      const awsManaged: string[] = [];
      for (const arn of properties.ManagedPolicyArns ?? []) {
        if (arn.startsWith('arn:aws:iam::aws:policy/')) {
          awsManaged.push(arn);
          continue;
        }
        const managed = Object.entries(this.#template.Resources).find(
          ([id, r]) => r.Type === 'AWS::IAM::ManagedPolicy' && this.#ref(id) === arn,
        );
        if (!managed)
          throw new Error(`${logicalId}: managed policy ${arn} is not in the template (AWS managed)`);
        const document = (this.resolve(managed[1].Properties) as { PolicyDocument: PolicyDocument })
          .PolicyDocument;
        policies.push({ name: managed[0], policy: document });
      }
      roles.set(logicalId, { logicalId, arn: this.#arn(logicalId), policies, awsManaged });
    }
    this.#roles = roles;
    return roles;
  }

  /** The role (logical id) of each Lambda function, keyed by function key (`prepare-build`). */
  functionRoles(): Map<string, string> {
    if (this.#functionRoles) return this.#functionRoles;
    const service = this.functionNamePrefix();
    const roles = new Map<string, string>();
    for (const resource of Object.values(this.#template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const name = String(resource.Properties?.FunctionName);
      const role = String(this.resolve(resource.Properties?.Role));
      const logicalId = [...this.roles().values()].find((r) => r.arn === role)?.logicalId;
      if (!logicalId) throw new Error(`function ${name}: role ${role} is not a role of the stack`);
      roles.set(name.slice(service.length), logicalId);
    }
    this.#functionRoles = roles;
    return roles;
  }

  /** `<service>-<stage>-` of the function names. */
  functionNamePrefix(): string {
    const state = Object.values(this.#template.Resources).find(
      (r) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    return `${String(state?.Properties?.StateMachineName)}-`;
  }

  /** The environment a function gets (every value resolved to a string). */
  functionEnvironment(functionKey: string): Record<string, string> {
    const name = `${this.functionNamePrefix()}${functionKey}`;
    const fn = Object.values(this.#template.Resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.FunctionName === name,
    );
    if (!fn) throw new Error(`no function ${name} in the template`);
    const variables = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    return Object.fromEntries(
      Object.entries(variables ?? {}).map(([k, v]) => [k, String(this.resolve(v) ?? '')]),
    );
  }

  /** The stack's outputs as `DescribeStacks` lists them (key → value; conditional ones only when on). */
  outputs(): Record<string, string> {
    return Object.fromEntries(
      Object.entries(this.#template.Outputs ?? {})
        .filter(([, output]) => output.Condition === undefined || this.#condition(output.Condition))
        .map(([key, output]) => [key, String(this.resolve(output.Value))]),
    );
  }

  /** The resolved properties of one resource. */
  properties(logicalId: string): Record<string, unknown> {
    const resource = this.#template.Resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId} in the template`);
    return this.resolve(resource.Properties ?? {}) as Record<string, unknown>;
  }

  /** Logical ids of the template's resources of one type (e.g. `AWS::DynamoDB::Table`). */
  resourcesOfType(type: string): string[] {
    return Object.entries(this.#template.Resources)
      .filter(([, resource]) => resource.Type === type)
      .map(([id]) => id);
  }

  /** `Ref` of a resource or parameter, as CloudFormation returns it. */
  ref(logicalId: string): string {
    return this.#ref(logicalId);
  }

  /** The ARN (`Fn::GetAtt [id, Arn]`) of a resource. */
  arn(logicalId: string): string {
    return this.#arn(logicalId);
  }

  #condition(name: string): boolean {
    const condition = this.#template.Conditions?.[name];
    if (condition === undefined) throw new Error(`unknown condition ${name}`);
    return Boolean(this.#resolve(condition));
  }

  #ref(id: string): string {
    if (id === 'AWS::Region') return TEST_REGION;
    if (id === 'AWS::AccountId') return MOTO_ACCOUNT_ID;
    if (id === 'AWS::Partition') return 'aws';
    if (id === 'AWS::StackName') return this.functionNamePrefix().slice(0, -1);
    if (id in this.#parameters) return this.#parameters[id] as string;
    const resource = this.#template.Resources[id];
    if (!resource) throw new Error(`Ref to unknown ${id}`);
    const p = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::ManagedPolicy':
        return `arn:aws:iam::${MOTO_ACCOUNT_ID}:policy/${String(p.ManagedPolicyName ?? this.#physicalPrefix + id)}`;
      case 'AWS::ECS::Cluster':
        return String(p.ClusterName ?? id);
      case 'AWS::ECS::TaskDefinition':
        return `arn:aws:ecs:${TEST_REGION}:${MOTO_ACCOUNT_ID}:task-definition/${String(p.Family)}:1`;
      case 'AWS::Logs::LogGroup':
        return String(this.resolve(p.LogGroupName) ?? id);
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${TEST_REGION}:${MOTO_ACCOUNT_ID}:stateMachine:${String(p.StateMachineName)}`;
      case 'AWS::Lambda::Function':
        return String(p.FunctionName);
      case 'AWS::DynamoDB::Table':
        return String(p.TableName);
      // CloudFormation names a bucket without BucketName `<stack>-<logical id>-<suffix>`, lower-cased.
      case 'AWS::S3::Bucket':
        return String(p.BucketName ?? `${this.#physicalPrefix}${id}-1a2b3c4d5e6f`.toLowerCase());
      default:
        return String(p.RoleName ?? p.InstanceProfileName ?? this.#physicalPrefix + id);
    }
  }

  #arn(id: string): string {
    const resource = this.#template.Resources[id];
    if (!resource) throw new Error(`GetAtt of unknown ${id}`);
    const p = resource.Properties ?? {};
    const at = `${TEST_REGION}:${MOTO_ACCOUNT_ID}`;
    switch (resource.Type) {
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/${this.#ref(id)}`;
      case 'AWS::IAM::InstanceProfile':
        return `arn:aws:iam::${MOTO_ACCOUNT_ID}:instance-profile/${this.#ref(id)}`;
      case 'AWS::ECS::Cluster':
        return `arn:aws:ecs:${at}:cluster/${this.#ref(id)}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${at}:log-group:${this.#ref(id)}:*`;
      case 'AWS::ECR::Repository':
        return `arn:aws:ecr:${at}:repository/${String(this.resolve(p.RepositoryName))}`;
      case 'AWS::SSMIncidents::ResponsePlan':
        return `arn:aws:ssm-incidents::${MOTO_ACCOUNT_ID}:response-plan/${String(this.resolve(p.Name))}`;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${at}:function:${String(p.FunctionName)}`;
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${this.#ref(id)}`;
      default:
        return this.#ref(id);
    }
  }

  #getAtt(id: string, attribute: string): string {
    if (attribute === 'Arn') return this.#arn(id);
    if (attribute === 'RepositoryUri') {
      const p = this.#template.Resources[id]?.Properties ?? {};
      return `${MOTO_ACCOUNT_ID}.dkr.ecr.${TEST_REGION}.amazonaws.com/${String(this.resolve(p.RepositoryName))}`;
    }
    if (attribute === 'FunctionUrl') return 'https://function-url.lambda-url.us-east-1.on.aws/';
    throw new Error(`GetAtt ${id}.${attribute} is not modelled`);
  }

  #sub(template: string, variables: Record<string, unknown>): string {
    return template.replace(/\$\{(!?)([^}]+)\}/g, (_all, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      if (name in variables) return String(this.#resolve(variables[name]));
      const [id = '', attribute] = name.split('.');
      return attribute ? this.#getAtt(id, attribute) : this.#ref(id);
    });
  }

  #resolve(node: unknown): unknown {
    if (Array.isArray(node))
      return node.map((item) => this.#resolve(item)).filter((item) => item !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, unknown>);
    if (entries.length === 1) {
      const [[key, value]] = entries as [[string, unknown]];
      switch (key) {
        case 'Ref': {
          if (value === 'AWS::NoValue') return NO_VALUE;
          // A CommaDelimitedList parameter is a list where it is used whole.
          if (this.#template.Parameters?.[String(value)]?.Type === 'CommaDelimitedList') {
            return this.#ref(String(value))
              .split(',')
              .map((item) => item.trim());
          }
          return this.#ref(String(value));
        }
        case 'Fn::GetAtt': {
          const [id, attribute] = Array.isArray(value) ? value : String(value).split('.');
          return this.#getAtt(String(id), String(attribute));
        }
        case 'Fn::Sub':
          return Array.isArray(value)
            ? this.#sub(String(value[0]), value[1] as Record<string, unknown>)
            : this.#sub(String(value), {});
        case 'Fn::Join': {
          const [separator, items] = value as [string, unknown[]];
          return (this.#resolve(items) as unknown[]).join(separator);
        }
        case 'Fn::Split': {
          const [separator, source] = value as [string, unknown];
          return String(this.#resolve(source)).split(separator);
        }
        case 'Fn::If': {
          const [name, yes, no] = value as [string, unknown, unknown];
          return this.#resolve(this.#condition(name) ? yes : no);
        }
        case 'Fn::Equals': {
          const [a, b] = value as [unknown, unknown];
          return String(this.#resolve(a)) === String(this.#resolve(b));
        }
        case 'Fn::Not':
          return !this.#resolve((value as unknown[])[0]);
        case 'Fn::And':
          return (value as unknown[]).every((item) => this.#resolve(item));
        case 'Fn::Or':
          return (value as unknown[]).some((item) => this.#resolve(item));
        case 'Condition':
          return this.#condition(String(value));
        default:
          if (key.startsWith('Fn::')) throw new Error(`${key} is not modelled`);
      }
    }
    const resolved: Record<string, unknown> = {};
    for (const [key, value] of entries) {
      const item = this.#resolve(value);
      if (item !== NO_VALUE) resolved[key] = item;
    }
    return resolved;
  }
}

/** Modification time of the newest input of the packaged template (serverless.yml and its includes). */
export const newestStackInput = (): number => {
  const inputs = [
    'serverless.yml',
    'statemachines/image-factory.asl.yaml',
    ...readdirSync(join(REPO_ROOT, 'serverless')).map((file) => `serverless/${file}`),
  ];
  return Math.max(...inputs.map((file) => statSync(join(REPO_ROOT, file)).mtimeMs));
};
