/**
 * What the packaged roles must NOT allow (issue 8), evaluated like every handler call: the request
 * IAM would authorize, with the resource's tags read from moto, against the role's policies from
 * the packaged stack (`iam/authorizer.ts`). Each denial check has an allowed twin on a factory
 * resource of the stack, so a check cannot pass merely because the mapping or a tag lookup broke.
 */
import {
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  RegisterImageCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETAIL_TYPES, EVENT_SOURCE } from '#commons/core/events.js';
import { PUBLISHED } from './fixtures/image-catalog.js';
import { type AwsSide, packagedStack, SETUP_TIMEOUT_MS, stackSettings, startAwsSide } from './harness.js';
import { type AuthorizationRequest, type IamAuthorizer, userIdOf } from './iam/authorizer.js';

let aws: AwsSide;
let iam: IamAuthorizer;
/** Resource ids by label: `<kind>:<owner>` with owner own | untagged | other | protected | build. */
const ids = new Map<string, string>();
let denials = 0;

const tag = async (resource: string, tags: Record<string, string>) => {
  if (Object.keys(tags).length === 0) return;
  await aws.ec2.send(
    new CreateTagsCommand({
      Resources: [resource],
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
};

const STAGE = stackSettings().STAGE;
/** A stage deployed next to the stack's in the same account, with the same pipelines. */
const OTHER_STAGE = 'prod';

/**
 * Tags of the owners: our stage and pipeline (a test instance, or a candidate image), none, a
 * pipeline of no stack here, another stage's (same pipeline, same marks), protected, a build instance.
 */
const OWNERS: Record<string, Record<string, string>> = {
  own: {
    'factory:stage': STAGE,
    'factory:pipeline': 'web',
    'factory:build-id': 'web-0123456789ab',
    'factory:role': 'test-instance',
    'factory:channel': 'candidate',
  },
  untagged: {},
  other: {
    'factory:stage': STAGE,
    'factory:pipeline': 'intruder',
    'factory:build-id': 'intruder-0123456789ab',
    'factory:role': 'test-instance',
    'factory:channel': 'candidate',
  },
  otherStage: {
    'factory:stage': OTHER_STAGE,
    'factory:pipeline': 'web',
    'factory:build-id': 'web-0123456789ab',
    'factory:role': 'test-instance',
    'factory:channel': 'candidate',
  },
  protected: { 'factory:stage': STAGE, 'factory:pipeline': 'web', 'factory:protected': 'true' },
  build: {
    'factory:stage': STAGE,
    'factory:pipeline': 'web',
    'factory:build-id': 'web-0123456789ab',
    'factory:role': 'build-instance',
    'factory:channel': 'candidate',
  },
  otherStageBuild: {
    'factory:stage': OTHER_STAGE,
    'factory:pipeline': 'web',
    'factory:build-id': 'web-0123456789ab',
    'factory:role': 'build-instance',
    'factory:channel': 'candidate',
  },
};

/** The decision for every authorization of a call (all must agree). */
const decide = async (role: string, service: string, operation: string, input: Record<string, unknown>) => {
  const requests: AuthorizationRequest[] = await iam.requestsFor(service, operation, input);
  expect(requests.length).toBeGreaterThan(0);
  const decisions = await Promise.all(requests.map((request) => iam.simulate(role, request)));
  for (const decision of decisions) expect(decision.detail, decision.resource).toBeUndefined();
  return decisions.every((d) => d.result === 'Allowed') ? 'Allowed' : 'Denied';
};
const denied = async (role: string, service: string, operation: string, input: Record<string, unknown>) => {
  expect(await decide(role, service, operation, input), `${role} ${operation} ${JSON.stringify(input)}`).toBe(
    'Denied',
  );
  denials += 1;
};
const allowed = async (role: string, service: string, operation: string, input: Record<string, unknown>) => {
  expect(await decide(role, service, operation, input), `${role} ${operation} ${JSON.stringify(input)}`).toBe(
    'Allowed',
  );
};

beforeAll(async () => {
  aws = await startAwsSide();
  iam = aws.proxy.iam as IamAuthorizer;
  for (const [owner, tags] of Object.entries(OWNERS)) {
    const run = await aws.ec2.send(
      new RunInstancesCommand({
        ImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    const instance = run.Instances?.[0]?.InstanceId ?? '';
    await tag(instance, tags);
    ids.set(`instance:${owner}`, instance);
    const { ImageId = '' } = await aws.ec2.send(
      new RegisterImageCommand({ Name: `negative-${owner}`, RootDeviceName: '/dev/xvda' }),
    );
    const image = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId] }))).Images?.[0];
    const snapshot = image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
    await tag(ImageId, tags);
    await tag(snapshot, tags);
    ids.set(`image:${owner}`, ImageId);
    ids.set(`snapshot:${owner}`, snapshot);
  }
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  console.log(`IAM negative checks: ${denials} denied as required`);
  await aws?.close();
});

const id = (label: string): string => {
  const value = ids.get(label);
  if (!value) throw new Error(`no resource ${label}`);
  return value;
};

describe('no role destroys or retags what is not a factory resource of the stack', () => {
  const owners = ['untagged', 'other', 'otherStage'] as const;

  it.each([
    ['TerminateTestInstanceRole', 'own'],
    ['CleanupAfterFailureRole', 'own'],
    ['PackerTaskRole', 'build'],
  ])('%s: terminating an untagged, other-pipeline or other-stage instance is denied', async (role, mine) => {
    await allowed(role, 'ec2', 'TerminateInstances', { InstanceIds: [id(`instance:${mine}`)] });
    for (const owner of owners)
      await denied(role, 'ec2', 'TerminateInstances', { InstanceIds: [id(`instance:${owner}`)] });
  });

  it('TerminateTestInstanceRole: a factory instance that is not a test instance is denied', async () => {
    await denied('TerminateTestInstanceRole', 'ec2', 'TerminateInstances', {
      InstanceIds: [id('instance:build')],
    });
  });

  it.each(['ApplyRetentionRole', 'CleanupAfterFailureRole', 'PackerTaskRole'])(
    '%s: deregistering or deleting an untagged, other-pipeline, other-stage or protected image or snapshot is denied',
    async (role) => {
      await allowed(role, 'ec2', 'DeregisterImage', { ImageId: id('image:own') });
      await allowed(role, 'ec2', 'DeleteSnapshot', { SnapshotId: id('snapshot:own') });
      for (const owner of [...owners, 'protected']) {
        await denied(role, 'ec2', 'DeregisterImage', { ImageId: id(`image:${owner}`) });
      }
      for (const owner of owners)
        await denied(role, 'ec2', 'DeleteSnapshot', { SnapshotId: id(`snapshot:${owner}`) });
    },
  );

  it.each(['PromoteImageRole', 'RollbackChannelRole', 'ApplyRetentionRole'])(
    '%s: retagging an untagged, other-pipeline or other-stage image is denied',
    async (role) => {
      const retag = (image: string) => ({
        Resources: [image],
        Tags: [{ Key: 'factory:channel', Value: 'stable' }],
      });
      await allowed(role, 'ec2', 'CreateTags', retag(id('image:own')));
      for (const owner of owners) await denied(role, 'ec2', 'CreateTags', retag(id(`image:${owner}`)));
    },
  );

  it('LaunchTestInstanceRole: launching from an untagged, other-pipeline or other-stage image is denied', async () => {
    const launch = (image: string) => ({
      ImageId: image,
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: ['instance', 'volume'].map((ResourceType) => ({
        ResourceType,
        Tags: Object.entries(OWNERS.own ?? {}).map(([Key, Value]) => ({ Key, Value })),
      })),
    });
    await allowed('LaunchTestInstanceRole', 'ec2', 'RunInstances', launch(id('image:own')));
    for (const owner of owners)
      await denied('LaunchTestInstanceRole', 'ec2', 'RunInstances', launch(id(`image:${owner}`)));
  });
});

describe('ownership by value: owner tags only at creation, protected and channel images guarded (issue 9 point 5)', () => {
  const tagsOf = (tags: Record<string, string>) =>
    Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  const createTags = (resource: string, tags: Record<string, string>) => ({
    Resources: [resource],
    Tags: tagsOf(tags),
  });
  /** What StepCreateTags sends after CreateImage: `local.aws_tags` (no owner key). */
  const PACKER_TAGS = { Name: 'web-0123456789ab-20260630120000', 'factory:channel': 'candidate' };
  const OWNER_TAGS = { 'factory:stage': STAGE, 'factory:pipeline': 'web' };

  it('PackerTaskRole: tags its own candidate after creation, never another stage’s, pipeline’s or an untagged image', async () => {
    await allowed('PackerTaskRole', 'ec2', 'CreateTags', createTags(id('image:build'), PACKER_TAGS));
    await allowed('PackerTaskRole', 'ec2', 'CreateTags', createTags(id('snapshot:build'), PACKER_TAGS));
    for (const owner of ['untagged', 'other', 'otherStageBuild', 'protected']) {
      await denied('PackerTaskRole', 'ec2', 'CreateTags', createTags(id(`image:${owner}`), PACKER_TAGS));
      await denied('PackerTaskRole', 'ec2', 'CreateTags', createTags(id(`snapshot:${owner}`), PACKER_TAGS));
    }
    // A bake cannot promote its own candidate by tag.
    await denied(
      'PackerTaskRole',
      'ec2',
      'CreateTags',
      createTags(id('image:build'), { 'factory:channel': 'stable' }),
    );
  });

  it('no role adds an owner tag to an existing resource (adopting it), not even its own', async () => {
    const roles = [...packagedStack().roles()]
      .filter(([, r]) => r.awsManaged.length === 0)
      .map(([role]) => role);
    for (const role of roles) {
      for (const resource of [
        'image:untagged',
        'image:otherStageBuild',
        'image:build',
        'instance:untagged',
      ]) {
        for (const key of ['factory:stage', 'factory:pipeline'] as const) {
          await denied(role, 'ec2', 'CreateTags', createTags(id(resource), { [key]: OWNER_TAGS[key] }));
        }
      }
    }
  });

  it('creating calls must carry this stage’s owner tags (tag on create)', async () => {
    const spec = (type: string, tags: Record<string, string>) => [{ ResourceType: type, Tags: tagsOf(tags) }];
    const own = { ...OWNERS.build };
    const foreign = { ...OWNERS.build, 'factory:stage': OTHER_STAGE };
    const run = (tags: Record<string, string>) => ({
      ImageId: PUBLISHED['ubuntu-24.04'].current.imageId,
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [...spec('instance', tags), ...spec('volume', tags)],
    });
    await allowed('PackerTaskRole', 'ec2', 'RunInstances', run(own));
    await denied('PackerTaskRole', 'ec2', 'RunInstances', run(foreign));
    await denied('PackerTaskRole', 'ec2', 'RunInstances', run({ ...own, 'factory:stage': '' }));
    const image = (tags: Record<string, string>) => ({
      InstanceId: id('instance:build'),
      Name: 'web-0123456789ab-20260630120000',
      TagSpecifications: [...spec('image', tags), ...spec('snapshot', tags)],
    });
    await allowed('PackerTaskRole', 'ec2', 'CreateImage', image(own));
    await denied('PackerTaskRole', 'ec2', 'CreateImage', image(foreign));
    await allowed('PackerTaskRole', 'ec2', 'CreateKeyPair', {
      KeyName: 'packer_stage',
      TagSpecifications: spec('key-pair', own),
    });
    await denied('PackerTaskRole', 'ec2', 'CreateKeyPair', {
      KeyName: 'packer_stage',
      TagSpecifications: spec('key-pair', foreign),
    });
    await denied('PackerTaskRole', 'ec2', 'CreateSecurityGroup', {
      GroupName: 'packer_stage',
      Description: 'Temporary group for Packer',
      TagSpecifications: spec('security-group', foreign),
    });
    const test = { ...OWNERS.own };
    await denied('LaunchTestInstanceRole', 'ec2', 'RunInstances', {
      ...run({ ...test, 'factory:stage': OTHER_STAGE }),
      ImageId: id('image:own'),
    });
  });

  it('a protected image keeps its tags but the channel ones, and is never deregistered', async () => {
    for (const role of ['PromoteImageRole', 'RollbackChannelRole', 'CleanupAfterFailureRole']) {
      // The channel tags follow the pointers, protected or not.
      await allowed(
        role,
        'ec2',
        'CreateTags',
        createTags(id('image:protected'), { 'factory:channel': 'stable' }),
      );
      const changes: Array<Record<string, string>> = [
        { 'factory:protected': 'false' },
        { 'factory:build-id': 'web-ffffffffffff' },
        { Name: 'x' },
      ];
      for (const tags of changes)
        await denied(role, 'ec2', 'CreateTags', createTags(id('image:protected'), tags));
    }
    for (const role of [
      'ApplyRetentionRole',
      'CleanupAfterFailureRole',
      'SweepLeftoversRole',
      'PackerTaskRole',
    ]) {
      await denied(role, 'ec2', 'DeregisterImage', { ImageId: id('image:protected') });
      await denied(role, 'ec2', 'DeleteSnapshot', { SnapshotId: id('snapshot:protected') });
    }
  });

  it('an image tagged with a channel (current) or previous-<channel> is never deregistered, by any role', async () => {
    const { ImageId = '' } = await aws.ec2.send(
      new RegisterImageCommand({ Name: `channel-image-${Date.now()}`, RootDeviceName: '/dev/xvda' }),
    );
    const { ImageId: retired = '' } = await aws.ec2.send(
      new RegisterImageCommand({ Name: `retired-image-${Date.now()}`, RootDeviceName: '/dev/xvda' }),
    );
    const base = { 'factory:stage': STAGE, 'factory:pipeline': 'web' };
    await tag(retired, { ...base, 'factory:channel': 'retired' });
    await allowed('ApplyRetentionRole', 'ec2', 'DeregisterImage', { ImageId: retired });
    for (const channel of ['stable', 'previous-stable', 'beta']) {
      await tag(ImageId, { ...base, 'factory:channel': channel });
      for (const role of ['ApplyRetentionRole', 'CleanupAfterFailureRole'])
        await denied(role, 'ec2', 'DeregisterImage', { ImageId });
    }
  });
});

describe('Run Command only runs the probe document on test instances', () => {
  const send = (instance: string, document = 'AWS-RunShellScript') => ({
    DocumentName: document,
    InstanceIds: [instance],
    Parameters: { commands: ['true'] },
  });

  it('is denied on an instance that is not a test instance of the stack', async () => {
    await allowed('ProbeTestInstanceRole', 'ssm', 'SendCommand', send(id('instance:own')));
    for (const owner of ['untagged', 'other', 'otherStage', 'build']) {
      await denied('ProbeTestInstanceRole', 'ssm', 'SendCommand', send(id(`instance:${owner}`)));
    }
  });

  it.each([
    'AWS-RunPowerShellScript',
    'AWS-RunRemoteScript',
    'AWS-ApplyAnsiblePlaybooks',
    'AWS-StartInteractiveCommand',
  ])('is denied with the document %s', async (document) => {
    await denied('ProbeTestInstanceRole', 'ssm', 'SendCommand', send(id('instance:own'), document));
  });

  it('is denied to every other role', async () => {
    for (const role of packagedStack().roles().keys()) {
      if (role === 'ProbeTestInstanceRole' || packagedStack().roles().get(role)?.awsManaged.length) continue;
      await denied(role, 'ssm', 'SendCommand', send(id('instance:own')));
    }
  });
});

describe('Session Manager: the Packer task tunnels only to its build instance and ends only its own sessions', () => {
  const forward = (instance: string, document?: string) => ({
    Target: instance,
    ...(document ? { DocumentName: document } : {}),
    Parameters: { portNumber: ['22'], localPortNumber: ['8022'] },
  });

  it('starts port forwarding only to a build instance of the stack', async () => {
    await allowed(
      'PackerTaskRole',
      'ssm',
      'StartSession',
      forward(id('instance:build'), 'AWS-StartPortForwardingSession'),
    );
    for (const owner of ['own', 'untagged', 'other', 'otherStageBuild']) {
      await denied(
        'PackerTaskRole',
        'ssm',
        'StartSession',
        forward(id(`instance:${owner}`), 'AWS-StartPortForwardingSession'),
      );
    }
  });

  it.each([
    ['none (the shell)', undefined],
    ['SSM-SessionManagerRunShell', 'SSM-SessionManagerRunShell'],
    ['AWS-StartInteractiveCommand', 'AWS-StartInteractiveCommand'],
    ['AWS-StartSSHSession', 'AWS-StartSSHSession'],
  ])('is denied a session with the document %s', async (_label, document) => {
    await denied('PackerTaskRole', 'ssm', 'StartSession', forward(id('instance:build'), document));
  });

  it('is denied to every other role', async () => {
    for (const role of packagedStack().roles().keys()) {
      if (role === 'PackerTaskRole' || packagedStack().roles().get(role)?.awsManaged.length) continue;
      await denied(
        role,
        'ssm',
        'StartSession',
        forward(id('instance:build'), 'AWS-StartPortForwardingSession'),
      );
    }
  });

  it('reads the connection status of build instances only', async () => {
    await allowed('PackerTaskRole', 'ssm', 'GetConnectionStatus', { Target: id('instance:build') });
    for (const owner of ['own', 'untagged']) {
      await denied('PackerTaskRole', 'ssm', 'GetConnectionStatus', { Target: id(`instance:${owner}`) });
    }
  });

  it.each(['TerminateSession', 'ResumeSession'])(
    "%s: its own session is allowed; another task's, another principal's (even with the same session name) or an unknown one is denied",
    async (operation) => {
      // SessionId = <role session name | user name>-<suffix>; the tags hold the starter's aws:userid.
      const target = id('instance:build');
      const sessions = {
        own: { id: 'session-0a1b2c3d4e5f60718', owner: userIdOf('PackerTaskRole') },
        otherTask: { id: 'othertask-0a1b2c3d4e5f60718', owner: userIdOf('PackerTaskRole', 'othertask') },
        otherRole: { id: 'session-0fedcba9876543210', owner: userIdOf('ProbeTestInstanceRole') },
        user: { id: 'operator-0123456789abcdef0', owner: 'AIDAOPERATOREXAMPLE1' },
      };
      for (const session of Object.values(sessions)) {
        iam.recordSession(session.id, { owner: session.owner, target });
      }
      await allowed('PackerTaskRole', 'ssm', operation, { SessionId: sessions.own.id });
      for (const session of [sessions.otherTask, sessions.otherRole, sessions.user]) {
        await denied('PackerTaskRole', 'ssm', operation, { SessionId: session.id });
      }
      await denied('PackerTaskRole', 'ssm', operation, { SessionId: 'session-unrecorded0000000' });
    },
  );
});

describe('the sweeper removes only factory leftovers of its kind, and reads only its stage’s executions', () => {
  const SWEEPER = 'SweepLeftoversRole';
  const image = async (tags: Record<string, string>) => {
    const { ImageId = '' } = await aws.ec2.send(
      new RegisterImageCommand({
        Name: `sweeper-${Object.values(tags).join('-')}-${Date.now()}`,
        RootDeviceName: '/dev/xvda',
      }),
    );
    await tag(ImageId, tags);
    return ImageId;
  };
  const group = async (name: string, tags: Record<string, string>) => {
    const { GroupId = '' } = await aws.ec2.send(
      new CreateSecurityGroupCommand({ GroupName: name, Description: 'negative' }),
    );
    await tag(GroupId, tags);
    return GroupId;
  };
  const keyPair = async (name: string, tags: Record<string, string>) => {
    await aws.ec2.send(
      new CreateKeyPairCommand({
        KeyName: name,
        ...(Object.keys(tags).length > 0
          ? {
              TagSpecifications: [
                {
                  ResourceType: 'key-pair',
                  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
                },
              ],
            }
          : {}),
      }),
    );
    return name;
  };
  const BUILD = OWNERS.build as Record<string, string>;

  it('terminates build and test instances of its pipelines only', async () => {
    for (const mine of ['own', 'build'])
      await allowed(SWEEPER, 'ec2', 'TerminateInstances', { InstanceIds: [id(`instance:${mine}`)] });
    for (const owner of ['untagged', 'other', 'protected', 'otherStage', 'otherStageBuild'])
      await denied(SWEEPER, 'ec2', 'TerminateInstances', { InstanceIds: [id(`instance:${owner}`)] });
  });

  it('deregisters candidates only: never a promoted, protected, untagged or other pipeline’s image', async () => {
    const candidate = { 'factory:stage': STAGE, 'factory:pipeline': 'web', 'factory:channel': 'candidate' };
    await allowed(SWEEPER, 'ec2', 'DeregisterImage', { ImageId: await image(candidate) });
    for (const tags of [
      { ...candidate, 'factory:channel': 'stable' },
      { ...candidate, 'factory:channel': 'previous-stable' },
      { ...candidate, 'factory:protected': 'true' },
      { ...candidate, 'factory:pipeline': 'intruder' },
      { ...candidate, 'factory:stage': OTHER_STAGE },
      {},
    ])
      await denied(SWEEPER, 'ec2', 'DeregisterImage', { ImageId: await image(tags) });
  });

  it('deletes Packer’s temporary groups and key pairs of its pipelines only', async () => {
    await allowed(SWEEPER, 'ec2', 'DeleteSecurityGroup', { GroupId: await group('packer_own', BUILD) });
    await allowed(SWEEPER, 'ec2', 'DeleteKeyPair', { KeyName: await keyPair('packer_own', BUILD) });
    for (const [name, tags] of [
      ['packer_untagged', {}],
      ['packer_other', { ...BUILD, 'factory:pipeline': 'intruder' }],
      ['packer_test', { ...BUILD, 'factory:role': 'test-instance' }],
      ['packer_prod', { ...BUILD, 'factory:stage': OTHER_STAGE }],
    ] as const) {
      await denied(SWEEPER, 'ec2', 'DeleteSecurityGroup', { GroupId: await group(name, tags) });
      await denied(SWEEPER, 'ec2', 'DeleteKeyPair', { KeyName: await keyPair(name, tags) });
    }
    // A key pair Packer did not name (an operator's), even carrying the factory's tags
    await denied(SWEEPER, 'ec2', 'DeleteKeyPair', { KeyName: await keyPair('ops', BUILD) });
  });

  it('reads the status of this stage’s executions only', async () => {
    const own = stackSettings().STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:');
    await allowed(SWEEPER, 'states', 'DescribeExecution', { executionArn: `${own}:web-run` });
    await denied(SWEEPER, 'states', 'DescribeExecution', {
      executionArn: `${own.replace(/:[^:]+$/, ':golden-image-factory-other')}:web-run`,
    });
  });
});

describe('execution histories are read only by the notify functions, of this stage’s state machine', () => {
  it('NotifyRole and NotifyFailureRole read their own executions only; every other role is denied', async () => {
    const own = stackSettings().STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:');
    const ownRun = { executionArn: `${own}:web-run`, includeExecutionData: false };
    const other = { executionArn: `${own.replace(/:[^:]+$/, ':golden-image-factory-other')}:web-run` };
    for (const [role, detail] of packagedStack().roles()) {
      if (detail.awsManaged.length > 0) continue; // instance roles: AWS managed SSM core only
      if (['NotifyRole', 'NotifyFailureRole'].includes(role)) {
        await allowed(role, 'states', 'GetExecutionHistory', ownRun);
        await denied(role, 'states', 'GetExecutionHistory', other);
      } else await denied(role, 'states', 'GetExecutionHistory', ownRun);
    }
  });
});

describe('secrets are read only by the function that needs them', () => {
  const settings = stackSettings();
  const secrets: Array<[string, string, string[]]> = [
    // The sweeper reports what it removed.
    [
      'Slack webhook URL',
      settings.SLACK_WEBHOOK_PARAMETER,
      ['NotifyRole', 'NotifyFailureRole', 'SweepLeftoversRole'],
    ],
    ['GitHub webhook secret', settings.GITHUB_WEBHOOK_SECRET_PARAMETER, ['GithubWebhookRole']],
    // github-webhook reads the pushed branch's head (replay protection), private repositories with the token.
    ['git token', settings.GIT_TOKEN_PARAMETER, ['PrepareBuildRole', 'PackerTaskRole', 'GithubWebhookRole']],
  ];

  it.each(secrets)('%s: every other role is denied', async (_label, name, readers) => {
    for (const [role, detail] of packagedStack().roles()) {
      if (detail.awsManaged.length > 0) continue; // instance roles: AWS managed SSM core only
      const read = { Name: name, WithDecryption: true };
      if (readers.includes(role)) await allowed(role, 'ssm', 'GetParameter', read);
      else await denied(role, 'ssm', 'GetParameter', read);
    }
  });
});

describe('events are put only by the functions that publish them, on the stage’s bus', () => {
  const entry = (detailType: string, bus = 'default', source = EVENT_SOURCE) => ({
    Entries: [{ EventBusName: bus, Source: source, DetailType: detailType, Detail: '{}' }],
  });
  /** Each publishing role and the detail-types it publishes (functions/commons/steps). */
  const PUBLISHERS: Record<string, string[]> = {
    PromoteImageRole: [DETAIL_TYPES.imagePromoted, DETAIL_TYPES.buildSuperseded],
    RollbackChannelRole: [DETAIL_TYPES.imageRolledBack],
    NotifyFailureRole: [DETAIL_TYPES.buildFailed],
  };

  it.each(Object.entries(PUBLISHERS))(
    '%s puts its own detail-types on the bus, and nothing else',
    async (role, own) => {
      for (const type of Object.values(DETAIL_TYPES)) {
        if (own.includes(type)) await allowed(role, 'events', 'PutEvents', entry(type));
        else await denied(role, 'events', 'PutEvents', entry(type));
      }
      // Another bus of the account, another source (an impersonated AWS service among them).
      await denied(role, 'events', 'PutEvents', entry(own[0] as string, 'other-bus'));
      await denied(role, 'events', 'PutEvents', entry(own[0] as string, 'default', 'aws.ec2'));
    },
  );

  it('every other role of the stack is denied PutEvents', async () => {
    let checked = 0;
    for (const [role, detail] of packagedStack().roles()) {
      if (detail.awsManaged.length > 0 || Object.hasOwn(PUBLISHERS, role)) continue;
      for (const type of Object.values(DETAIL_TYPES)) await denied(role, 'events', 'PutEvents', entry(type));
      checked += 1;
    }
    expect(checked).toBeGreaterThan(10);
  });
});
