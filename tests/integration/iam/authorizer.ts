/**
 * IamAuthorizer: evaluates each AWS call that crosses the emulator boundary against the calling
 * role's policies from the packaged stack, with the IAM policy simulator `@cloud-copilot/iam-simulate`.
 *
 * For a call it derives what IAM authorizes (Service Authorization Reference of each service,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/): the action, every resource
 * ARN the action checks, the request's tags (`aws:RequestTag/*`, `aws:TagKeys`), the resource's
 * current tags read from the emulator before the call (`aws:ResourceTag/*`, and `ssm:resourceTag/*`
 * for Systems Manager on instances), the implied authorizations (`ec2:CreateTags` with
 * `ec2:CreateAction` for tag-on-create, `iam:PassRole` with `iam:PassedToService` for an instance
 * profile, the describes behind `DescribeImageReferences`). A call without a mapping is a failure:
 * coverage is explicit.
 *
 * Session Manager sessions: moto has none, so the tags Session Manager puts on a session
 * (`aws:ssmmessages:session-id` = the starter's `aws:userid`, `aws:ssmmessages:target-id` = the
 * target; https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-examples.html)
 * are recorded with {@link IamAuthorizer.recordSession}. The session's ARN is
 * `arn:aws:ssm:<region>:<account>:session/<SessionId>` (Service Authorization Reference, ssm), and
 * a session that was never recorded has no tags.
 */
import { type AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeKeyPairsCommand,
  DescribeTagsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { MOTO_ACCOUNT_ID, TEST_REGION } from '../moto.js';
import type { Stack, StackRole } from './stack.js';

export type Context = Record<string, string | string[]>;

/** The default key policy of a KMS key: its account's IAM policies decide who may use it. */
const defaultKeyPolicy = (keyArn: string) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${keyArn.split(':')[4] ?? MOTO_ACCOUNT_ID}:root` },
      Action: 'kms:*',
      Resource: '*',
    },
  ],
});

/** One authorization IAM performs for a call. */
export interface AuthorizationRequest {
  action: string;
  resource: string;
  context: Context;
}

export interface Decision extends AuthorizationRequest {
  role: string;
  /** `Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`, or `Error` (the simulator refused the request). */
  result: string;
  detail?: string;
}

/** AWS-owned SSM resources have account-less ARNs: public parameters and AWS documents. */
const ACCOUNTLESS_SSM = /^arn:aws:ssm:[a-z0-9-]+::(parameter\/aws\/service\/|document\/AWS-)/;

/** The ARN of an EC2 resource by its id prefix (images and snapshots carry no account). */
export const ec2Arn = (id: string, region: string = TEST_REGION): string => ec2ArnIn(id, region);

const ec2ArnIn = (id: string, region: string): string => {
  if (id.startsWith('ami-')) return `arn:aws:ec2:${region}::image/${id}`;
  if (id.startsWith('snap-')) return `arn:aws:ec2:${region}::snapshot/${id}`;
  const types: Record<string, string> = {
    i: 'instance',
    vol: 'volume',
    sg: 'security-group',
    subnet: 'subnet',
    vpc: 'vpc',
    eni: 'network-interface',
    lt: 'launch-template',
    key: 'key-pair',
  };
  const type = types[id.split('-')[0] ?? ''];
  if (!type) throw new Error(`no ARN mapping for EC2 resource id ${id}`);
  return `arn:aws:ec2:${region}:${MOTO_ACCOUNT_ID}:${type}/${id}`;
};

/** An SSM parameter's ARN (`/aws/service/…` public parameters carry no account). */
export const parameterArn = (name: string, region: string = TEST_REGION): string =>
  parameterArnIn(name, region);

const parameterArnIn = (name: string, region: string): string => {
  const bare = name.replace(/:[^/:]+$/, ''); // version or label selector
  const path = bare.startsWith('/') ? bare : `/${bare}`;
  return path.startsWith('/aws/service/')
    ? `arn:aws:ssm:${region}::parameter${path}`
    : `arn:aws:ssm:${region}:${MOTO_ACCOUNT_ID}:parameter${path}`;
};

const tagContext = (prefix: string, tags: Record<string, string>): Context =>
  Object.fromEntries(Object.entries(tags).map(([key, value]) => [`${prefix}/${key}`, value]));

const requestTags = (tags: Record<string, string>): Context => ({
  ...tagContext('aws:RequestTag', tags),
  ...(Object.keys(tags).length > 0 ? { 'aws:TagKeys': Object.keys(tags) } : {}),
});

type TagSpecification = { ResourceType?: string; Tags?: Array<{ Key?: string; Value?: string }> };
const tagsOf = (list: Array<{ Key?: string; Value?: string }> | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((tag) => [String(tag.Key), String(tag.Value ?? '')]));
const specTags = (specs: unknown, type: string): Record<string, string> =>
  tagsOf(((specs as TagSpecification[] | undefined) ?? []).find((s) => s.ResourceType === type)?.Tags);
const list = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : value ? [String(value)] : [];

/**
 * The `aws:userid` of a role session, `<role id>:<role session name>` (IAM policy variables,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html). The role id
 * is derived from the logical id; every simulated call of a role runs as its session `session`.
 */
export const userIdOf = (roleId: string, sessionName = 'session'): string =>
  `AROA${roleId.toUpperCase().slice(0, 16)}:${sessionName}`;

/** The id under which the authorizer knows a role of another stage's stack: `<stage>:<logical id>`. */
export const stageRoleId = (stack: Stack, logicalId: string): string => `${stack.stage}:${logicalId}`;

/** What Session Manager records about a session: who started it, and its target. */
export interface SessionRecord {
  /** `aws:userid` of the principal that started it. */
  owner: string;
  /** Instance id of the target. */
  target: string;
}

export class IamAuthorizer {
  readonly decisions: Decision[] = [];
  readonly #roles: Map<string, StackRole>;
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #instanceProfileRoles: Map<string, string>;
  /** Partition key attribute of each DynamoDB table of the stack, by table name. */
  readonly #partitionKeys = new Map<string, string>();

  /**
   * @param otherStages stacks of other stages deployed in the same account: their roles are
   *   addressed as `<stage>:<logical id>` ({@link stageRoleId}).
   */
  constructor(
    stack: Stack,
    /** EC2 client straight to moto (tag look-ups are not calls of the role). */
    private readonly ec2: EC2Client,
    otherStages: readonly Stack[] = [],
    /** EC2 clients straight to moto in other regions (distribution); default: {@link ec2} only. */
    private readonly ec2In: (region: string) => EC2Client = () => ec2,
    /** EC2 Auto Scaling clients straight to moto, per region (the groups' ARNs and tags). */
    private readonly autoScalingIn?: (region: string) => AutoScalingClient,
  ) {
    this.#roles = new Map(stack.roles());
    this.#instanceProfileRoles = new Map();
    for (const other of otherStages) {
      for (const [id, role] of other.roles()) this.#roles.set(stageRoleId(other, id), role);
    }
    for (const each of [stack, ...otherStages]) {
      for (const id of ['TestInstanceProfile', 'BuilderInstanceProfile']) {
        const roles = (each.properties(id).Roles as string[] | undefined) ?? [];
        // Roles: the role's physical name (Ref), as CloudFormation resolves it.
        this.#instanceProfileRoles.set(
          each.ref(id),
          `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/${roles[0] ?? ''}`,
        );
      }
      for (const id of each.resourcesOfType('AWS::DynamoDB::Table')) {
        const table = each.properties(id) as {
          TableName: string;
          KeySchema: Array<{ AttributeName: string; KeyType: string }>;
        };
        const hash = table.KeySchema.find((key) => key.KeyType === 'HASH')?.AttributeName;
        if (hash) this.#partitionKeys.set(table.TableName, hash);
      }
    }
  }

  /**
   * Record a Session Manager session, as StartSession does on AWS (moto has no sessions): its
   * AWS-supplied tags are then the resource tags of `TerminateSession` / `ResumeSession` on it.
   * @param sessionId the `SessionId` StartSession returns: `<role session name or user name>-<suffix>`.
   */
  recordSession(sessionId: string, session: SessionRecord): void {
    this.#sessions.set(sessionId, session);
  }

  #client(region: string): EC2Client {
    return region === TEST_REGION ? this.ec2 : this.ec2In(region);
  }

  /** Current tags of EC2 resources, from the emulator. */
  async #tags(id: string, region: string): Promise<Record<string, string>> {
    if (!id.includes('-') || id.includes('*')) return {};
    const client = this.#client(region);
    const { Tags } = await client.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }),
    );
    return Object.fromEntries((Tags ?? []).map((tag) => [String(tag.Key), String(tag.Value ?? '')]));
  }

  async #imageExists(imageId: string, region: string): Promise<boolean> {
    try {
      const { Images } = await this.#client(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      return (Images ?? []).length > 0;
    } catch {
      return false;
    }
  }

  async #ec2Resource(id: string, region: string): Promise<{ resource: string; context: Context }> {
    return {
      resource: ec2Arn(id, region),
      context: tagContext('aws:ResourceTag', await this.#tags(id, region)),
    };
  }

  /**
   * An Auto Scaling group as IAM sees it: its ARN
   * (`arn:aws:autoscaling:<region>:<account>:autoScalingGroup:<uuid>:autoScalingGroupName/<name>`)
   * and its tags as `aws:ResourceTag/*` and `autoscaling:ResourceTag/*` (Service Authorization
   * Reference, Amazon EC2 Auto Scaling). A group moto does not hold has no tags.
   */
  async #autoScalingGroup(name: string, region: string): Promise<{ resource: string; context: Context }> {
    if (!this.autoScalingIn) throw new Error('no Auto Scaling client: pass autoScalingIn to the authorizer');
    const { AutoScalingGroups } = await this.autoScalingIn(region).send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
    );
    const group = AutoScalingGroups?.[0];
    const tags = tagsOf(group?.Tags);
    return {
      resource:
        group?.AutoScalingGroupARN ??
        `arn:aws:autoscaling:${region}:${MOTO_ACCOUNT_ID}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${name}`,
      context: { ...tagContext('aws:ResourceTag', tags), ...tagContext('autoscaling:ResourceTag', tags) },
    };
  }

  async #keyPair(name: string, region: string): Promise<{ resource: string; context: Context }> {
    let tags: Record<string, string> = {};
    try {
      const { KeyPairs } = await this.#client(region).send(new DescribeKeyPairsCommand({ KeyNames: [name] }));
      tags = tagsOf(KeyPairs?.[0]?.Tags);
    } catch {
      // not there (yet): no resource tags
    }
    return {
      resource: `arn:aws:ec2:${region}:${MOTO_ACCOUNT_ID}:key-pair/${name}`,
      context: tagContext('aws:ResourceTag', tags),
    };
  }

  /**
   * What IAM authorizes for one call (throws when the call has no mapping), each with the call's
   * region as `aws:RequestedRegion` (the region the request is signed for and sent to).
   * @param region the region of the call (its SigV4 credential scope); default the test region.
   */
  async requestsFor(
    service: string,
    operation: string,
    input: Record<string, unknown>,
    region: string = TEST_REGION,
  ): Promise<AuthorizationRequest[]> {
    const requests = await this.#requestsFor(service, operation, input, region);
    return requests.map((request) => ({
      ...request,
      context: { 'aws:RequestedRegion': region, ...request.context },
    }));
  }

  async #requestsFor(
    service: string,
    operation: string,
    input: Record<string, unknown>,
    region: string,
  ): Promise<AuthorizationRequest[]> {
    const EC2 = `arn:aws:ec2:${region}:${MOTO_ACCOUNT_ID}`;
    const EC2_PUBLIC = `arn:aws:ec2:${region}:`;
    const ec2Arn = (id: string) => ec2ArnIn(id, region);
    const parameterArn = (name: string) => parameterArnIn(name, region);
    const TEST_REGION = region;
    const action = `${service}:${operation}`;
    const one = (resource: string, context: Context = {}): AuthorizationRequest => ({
      action,
      resource,
      context,
    });
    const createTags = (
      resource: string,
      tags: Record<string, string>,
      createAction: string,
    ): AuthorizationRequest => ({
      action: 'ec2:CreateTags',
      resource,
      context: { ...requestTags(tags), 'ec2:CreateAction': createAction },
    });
    if (service === 'ec2') {
      if (/^Describe|^Get/.test(operation)) {
        const implied =
          operation === 'DescribeImageReferences'
            ? ['ec2:DescribeInstances', 'ec2:DescribeLaunchTemplates', 'ec2:DescribeLaunchTemplateVersions']
            : [];
        return [one('*'), ...implied.map((a) => ({ action: a, resource: '*', context: {} }))];
      }
      switch (operation) {
        case 'CreateTags':
        case 'DeleteTags': {
          const tags = tagsOf(input.Tags as never);
          const out: AuthorizationRequest[] = [];
          for (const id of list(input.Resources)) {
            const { resource, context } = await this.#ec2Resource(id, region);
            out.push(one(resource, { ...context, ...requestTags(tags) }));
          }
          return out;
        }
        case 'TerminateInstances':
        case 'StopInstances':
        case 'StartInstances': {
          return Promise.all(
            list(input.InstanceIds).map(async (id) => {
              const { resource, context } = await this.#ec2Resource(id, region);
              return one(resource, context);
            }),
          );
        }
        case 'ModifyInstanceAttribute': {
          const { resource, context } = await this.#ec2Resource(String(input.InstanceId), region);
          return [one(resource, context)];
        }
        // CopyImage is sent to the destination region. Since 2024-10-28 it is authorized on the
        // source image too; the new image and snapshots are authorized as created, and their
        // tags (CopyImageTags, TagSpecifications) as ec2:CreateTags with ec2:CreateAction=CopyImage
        // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/copy-ami-permissions.html; Service
        // Authorization Reference, Amazon EC2). With KmsKeyId, EBS uses the key on the caller's
        // behalf: its KMS actions carry kms:ViaService=ec2.<region>.amazonaws.com.
        case 'CopyImage': {
          const sourceRegion = String(input.SourceRegion ?? region);
          const source = await this.#ec2Resource(String(input.SourceImageId), sourceRegion);
          const specs = input.TagSpecifications;
          const copied =
            input.CopyImageTags === true || input.CopyImageTags === 'true'
              ? Object.fromEntries(
                  Object.entries(await this.#tags(String(input.SourceImageId), sourceRegion)).filter(
                    ([key]) => !key.startsWith('aws:'),
                  ),
                )
              : {};
          const out = [one(source.resource, source.context)];
          for (const [type, tags] of [
            ['image', { ...copied, ...specTags(specs, 'image') }],
            ['snapshot', specTags(specs, 'snapshot')],
          ] as const) {
            const resource = `${EC2_PUBLIC}:${type}/*`;
            out.push(one(resource));
            if (Object.keys(tags).length > 0) out.push(createTags(resource, tags, 'CopyImage'));
          }
          if (input.KmsKeyId) {
            for (const kms of [
              'kms:CreateGrant',
              'kms:DescribeKey',
              'kms:GenerateDataKeyWithoutPlaintext',
              'kms:ReEncryptTo',
            ])
              out.push({
                action: kms,
                resource: String(input.KmsKeyId),
                context: {
                  'kms:ViaService': `ec2.${region}.amazonaws.com`,
                  'kms:CallerAccount': MOTO_ACCOUNT_ID,
                },
              });
          }
          return out;
        }
        case 'ModifySnapshotAttribute': {
          const { resource, context } = await this.#ec2Resource(String(input.SnapshotId), region);
          return [one(resource, context)];
        }
        case 'ModifyImageAttribute':
        case 'DeregisterImage': {
          const { resource, context } = await this.#ec2Resource(String(input.ImageId), region);
          return [one(resource, context)];
        }
        case 'DeleteSnapshot': {
          const { resource, context } = await this.#ec2Resource(String(input.SnapshotId), region);
          return [one(resource, context)];
        }
        case 'RunInstances': {
          const specs = input.TagSpecifications;
          const out: AuthorizationRequest[] = [];
          for (const type of ['instance', 'volume', 'network-interface']) {
            const tags = specTags(specs, type);
            out.push(one(`${EC2}:${type}/*`, requestTags(tags)));
            if (Object.keys(tags).length > 0) out.push(createTags(`${EC2}:${type}/*`, tags, 'RunInstances'));
          }
          // An image that does not exist has no tags to authorize against; EC2 answers
          // InvalidAMIID.NotFound for it (moto does the same), so only existing images are checked.
          if (await this.#imageExists(String(input.ImageId), region)) {
            const image = await this.#ec2Resource(String(input.ImageId), region);
            out.push(one(image.resource, image.context));
          }
          out.push(one(input.SubnetId ? ec2Arn(String(input.SubnetId)) : `${EC2}:subnet/*`));
          const groups = list(input.SecurityGroupIds);
          for (const group of groups.length > 0 ? groups : ['*']) {
            out.push(one(group === '*' ? `${EC2}:security-group/*` : ec2Arn(group)));
          }
          if (input.KeyName) out.push(one((await this.#keyPair(String(input.KeyName), region)).resource));
          const profile = (input.IamInstanceProfile as { Name?: string; Arn?: string } | undefined)?.Name;
          if (profile) {
            const role =
              this.#instanceProfileRoles.get(profile) ??
              `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/unknown-profile-${profile}`;
            out.push({
              action: 'iam:PassRole',
              resource: role,
              context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
            });
          }
          return out;
        }
        case 'CreateImage': {
          const instance = await this.#ec2Resource(String(input.InstanceId), region);
          const out = [one(instance.resource, instance.context)];
          for (const type of ['image', 'snapshot']) {
            const tags = specTags(input.TagSpecifications, type);
            const resource = `${EC2_PUBLIC}:${type}/*`;
            out.push(one(resource, requestTags(tags)));
            if (Object.keys(tags).length > 0) out.push(createTags(resource, tags, 'CreateImage'));
          }
          return out;
        }
        case 'CreateKeyPair': {
          const tags = specTags(input.TagSpecifications, 'key-pair');
          const resource = `${EC2}:key-pair/${String(input.KeyName)}`;
          return [
            one(resource, requestTags(tags)),
            ...(Object.keys(tags).length > 0 ? [createTags(resource, tags, 'CreateKeyPair')] : []),
          ];
        }
        case 'DeleteKeyPair': {
          const key = await this.#keyPair(String(input.KeyName), region);
          return [one(key.resource, key.context)];
        }
        case 'CreateSecurityGroup': {
          const tags = specTags(input.TagSpecifications, 'security-group');
          const resource = `${EC2}:security-group/*`;
          return [
            one(resource, requestTags(tags)),
            one(input.VpcId ? ec2Arn(String(input.VpcId)) : `${EC2}:vpc/*`),
            ...(Object.keys(tags).length > 0 ? [createTags(resource, tags, 'CreateSecurityGroup')] : []),
          ];
        }
        case 'AuthorizeSecurityGroupIngress':
        case 'DeleteSecurityGroup': {
          const group = await this.#ec2Resource(String(input.GroupId), region);
          return [one(group.resource, group.context)];
        }
        default:
          break;
      }
    }
    if (service === 'ssm') {
      if (
        ['DescribeInstanceInformation', 'GetCommandInvocation', 'ListCommandInvocations'].includes(operation)
      ) {
        return [one('*')];
      }
      if (
        [
          'GetParameter',
          'GetParameterHistory',
          'PutParameter',
          'DeleteParameter',
          'LabelParameterVersion',
        ].includes(operation)
      ) {
        return [one(parameterArn(String(input.Name)))];
      }
      if (operation === 'GetParameters') return list(input.Names).map((name) => one(parameterArn(name)));
      if (operation === 'StartSession' || operation === 'GetConnectionStatus') {
        const target = String(input.Target);
        const tags = await this.#tags(target, region);
        const out = [
          one(ec2Arn(target), {
            ...tagContext('ssm:resourceTag', tags),
            ...tagContext('aws:ResourceTag', tags),
          }),
        ];
        if (operation === 'StartSession') {
          // Without a document, Session Manager uses the account's SSM-SessionManagerRunShell.
          const document = String(input.DocumentName ?? 'SSM-SessionManagerRunShell');
          out.push(
            one(
              document.startsWith('AWS-')
                ? `arn:aws:ssm:${TEST_REGION}::document/${document}`
                : `arn:aws:ssm:${TEST_REGION}:${MOTO_ACCOUNT_ID}:document/${document}`,
            ),
          );
        }
        return out;
      }
      if (operation === 'TerminateSession' || operation === 'ResumeSession') {
        const id = String(input.SessionId);
        const session = this.#sessions.get(id);
        return [
          one(
            `arn:aws:ssm:${TEST_REGION}:${MOTO_ACCOUNT_ID}:session/${id}`,
            session
              ? {
                  'ssm:resourceTag/aws:ssmmessages:session-id': session.owner,
                  'ssm:resourceTag/aws:ssmmessages:target-id': session.target,
                }
              : {},
          ),
        ];
      }
      // The path is authorized as a parameter ARN (Service Authorization Reference, Systems
      // Manager: GetParametersByPath, resource type `parameter`).
      if (operation === 'GetParametersByPath') return [one(parameterArn(String(input.Path)))];
      if (operation === 'SendCommand') {
        const out = [one(`arn:aws:ssm:${TEST_REGION}::document/${String(input.DocumentName)}`)];
        for (const id of list(input.InstanceIds)) {
          const tags = await this.#tags(id, region);
          out.push(
            one(ec2Arn(id), {
              ...tagContext('ssm:resourceTag', tags),
              ...tagContext('aws:ResourceTag', tags),
            }),
          );
        }
        return out;
      }
    }
    if (service === 'dynamodb') {
      // Item actions are authorized on the table ARN; `dynamodb:LeadingKeys` is the partition key
      // value of the item the request addresses (Service Authorization Reference, Amazon DynamoDB;
      // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
      const item = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'].includes(operation);
      if (item) {
        const table = `arn:aws:dynamodb:${TEST_REGION}:${MOTO_ACCOUNT_ID}:table/${String(input.TableName)}`;
        const key = (operation === 'PutItem' ? input.Item : input.Key) as
          | Record<string, Record<string, string>>
          | undefined;
        const partitionKey = this.#partitionKeys.get(String(input.TableName));
        const value = partitionKey === undefined ? undefined : key?.[partitionKey];
        const leading = value ? [value.S ?? value.N ?? value.B ?? ''] : [];
        return [one(table, { 'dynamodb:LeadingKeys': leading })];
      }
    }
    if (service === 'events' && operation === 'PutEvents') {
      // One authorization per entry, on the entry's event bus (name or ARN; none: the default bus),
      // with the entry's `events:source` and `events:detail-type` (Service Authorization Reference,
      // Amazon EventBridge: PutEvents, resource type event-bus).
      const entries = (input.Entries as Array<Record<string, unknown>> | undefined) ?? [];
      return entries.map((entry) => {
        const bus = String(entry.EventBusName ?? 'default');
        return one(
          bus.startsWith('arn:') ? bus : `arn:aws:events:${TEST_REGION}:${MOTO_ACCOUNT_ID}:event-bus/${bus}`,
          // Both keys are multivalued (ArrayOfString) in the Service Authorization Reference.
          {
            'events:source': [String(entry.Source ?? '')],
            'events:detail-type': [String(entry.DetailType ?? '')],
          },
        );
      });
    }
    if (service === 'autoscaling') {
      // Describe* have no resource type (Resource '*'); StartInstanceRefresh is on the group, with
      // its tags (Service Authorization Reference, Amazon EC2 Auto Scaling).
      if (/^Describe/.test(operation)) return [one('*')];
      if (operation === 'StartInstanceRefresh') {
        const group = await this.#autoScalingGroup(String(input.AutoScalingGroupName), region);
        return [one(group.resource, group.context)];
      }
    }
    if (service === 'states' && operation === 'StartExecution') return [one(String(input.stateMachineArn))];
    if (service === 'states' && operation === 'DescribeExecution') return [one(String(input.executionArn))];
    // Resource type execution (Service Authorization Reference, AWS Step Functions: GetExecutionHistory).
    if (service === 'states' && operation === 'GetExecutionHistory') return [one(String(input.executionArn))];
    if (service === 'ssm-incidents' && operation === 'StartIncident')
      return [one(String(input.responsePlanArn))];
    // No resource type (Service Authorization Reference, Incident Manager).
    if (service === 'ssm-incidents' && operation === 'ListIncidentRecords') return [one('*')];
    if (service === 'ssm-incidents' && operation === 'CreateTimelineEvent')
      return [one(String(input.incidentRecordArn))];
    if (service === 'iam' && operation === 'GetInstanceProfile') {
      return [one(`arn:aws:iam::${MOTO_ACCOUNT_ID}:instance-profile/${String(input.InstanceProfileName)}`)];
    }
    if (service === 'codecommit' && operation === 'GetBranch') {
      return [one(`arn:aws:codecommit:${TEST_REGION}:${MOTO_ACCOUNT_ID}:${String(input.repositoryName)}`)];
    }
    // S3 object calls authorize the object's ARN (Service Authorization Reference, Amazon S3: HeadObject
    // needs s3:GetObject); CreateBucket the bucket's.
    if (service === 's3' && ['GetObject', 'PutObject', 'HeadObject'].includes(operation)) {
      const object = `arn:aws:s3:::${String(input.Bucket)}/${String(input.Key)}`;
      return [
        {
          action: operation === 'PutObject' ? 's3:PutObject' : 's3:GetObject',
          resource: object,
          context: {},
        },
      ];
    }
    // inspector-scan:ScanSbom has no resource types (Service Authorization Reference, Amazon InspectorScan).
    if (service === 'inspector-scan' && operation === 'ScanSbom') return [one('*')];
    // sts:GetCallerIdentity needs no permission (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
    if (service === 'sts' && operation === 'GetCallerIdentity') return [];
    throw new Error(`no IAM authorization mapping for ${action}`);
  }

  /** Simulate one authorization for a role of the stack. */
  async simulate(roleId: string, request: AuthorizationRequest): Promise<Decision> {
    const role = this.#roles.get(roleId);
    if (!role) throw new Error(`${roleId} is not a role of the stack`);
    if (role.awsManaged.length > 0)
      throw new Error(`${roleId} has AWS managed policies, which are not modelled`);
    const simulation: Simulation = {
      request: {
        principal: role.arn,
        action: request.action,
        resource: { resource: request.resource, accountId: MOTO_ACCOUNT_ID },
        contextVariables: {
          'aws:PrincipalArn': role.arn,
          'aws:PrincipalAccount': MOTO_ACCOUNT_ID,
          'aws:userid': userIdOf(roleId),
          ...request.context,
        },
      },
      identityPolicies: role.policies as never,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      // A KMS key always has a key policy; the keys of the factory's distribution keep the default
      // one, which lets the key's account decide with IAM ("Enable IAM User Permissions",
      // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
      ...(request.action.startsWith('kms:') ? { resourcePolicy: defaultKeyPolicy(request.resource) } : {}),
    };
    const decision: Decision = { ...request, role: roleId, result: 'Error' };
    if (ACCOUNTLESS_SSM.test(request.resource)) {
      // AWS public parameters and AWS-owned documents have account-less ARNs
      // (arn:aws:ssm:<region>::parameter/aws/service/…, …::document/AWS-RunShellScript), which the
      // simulator's ARN validation does not accept for those resource types: evaluated without that
      // validation, the policies' statements decide as usual.
      decision.result = runUnsafeSimulation(simulation, {}) as string;
      return decision;
    }
    const response = await runSimulation(simulation, {});
    if (response.resultType === 'error') {
      decision.detail = JSON.stringify(response.errors);
    } else {
      decision.result = response.overallResult;
    }
    return decision;
  }

  /** Every authorization of a call, evaluated and recorded. */
  async authorize(
    roleId: string,
    service: string,
    operation: string,
    input: Record<string, unknown>,
    region: string = TEST_REGION,
  ): Promise<Decision[]> {
    const decisions: Decision[] = [];
    for (const request of await this.requestsFor(service, operation, input, region)) {
      decisions.push(await this.simulate(roleId, request));
    }
    this.decisions.push(...decisions);
    return decisions;
  }
}
