/**
 * NotifySuccess, NotifyFailure and OpenIncident with their real adapters: the Slack webhook URL is
 * read from an SSM SecureString in moto and points at the SlackWebhookDouble (HTTPS on 127.0.0.1);
 * Incident Manager is the IncidentManagerDouble (no moto backend, MOTO-GAPS.md).
 * The handlers throw on delivery failures; that the pipeline's outcome does not change is asserted
 * on the state machine in `pipeline.test.ts`.
 *
 * Time and cost: the notify roles read the history of their own stack's executions only. A real
 * execution is made with moto's interpreter (`execute_state_machine`, switched on for the test
 * that needs it and restored) of a stand-in with the pipeline's state names; the fixture build's
 * execution is named in the stack's state machine (the roles' IAM on other state machines:
 * `iam-negative.test.ts`).
 */
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type SlackWebhookDouble, startSlackWebhookDouble } from './doubles/slack-webhook-double.js';
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

const SLACK_PARAMETER = stackSettings().SLACK_WEBHOOK_PARAMETER;
const STATE_MACHINE_ARN = stackSettings().STATE_MACHINE_ARN;
const PLAN = stackSettings().INCIDENT_RESPONSE_PLAN_ARN;

let aws: AwsSide;
let slack: SlackWebhookDouble;
let notifySuccess: LambdaHandler;
let notifyFailure: LambdaHandler;
let openIncident: LambdaHandler<{ incidentArn: string }>;

/** The build of an execution of the stack's state machine (the notify roles may read its history). */
const fixture = buildDocument({ pipeline: 'web', incidentResponsePlanArn: PLAN });
const build = {
  ...fixture,
  executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${fixture.executionName}`,
};
const candidate = {
  imageId: 'ami-0aaaabbbbccccdddd',
  name: 'web-build',
  createdAt: '2026-11-21T12:30:00.000Z',
  snapshotIds: [],
};
const successInput = {
  build,
  candidate,
  promotion: {
    channel: 'stable',
    imageId: candidate.imageId,
    previousImageId: null,
    parameterName: '/image-factory/channels/web/stable',
    parameterVersion: 1,
  },
};
const failureInput = {
  build,
  candidate,
  error: { Error: 'ProbeFailed', Cause: 'probe failed on i-0123456789abcdef0: no-authorized-keys' },
};

beforeAll(async () => {
  slack = await startSlackWebhookDouble(inject('testTls'));
  aws = await startAwsSide({ env: { SLACK_WEBHOOK_PARAMETER: SLACK_PARAMETER } });
  await aws.ssm.send(
    new PutParameterCommand({ Name: SLACK_PARAMETER, Value: slack.url, Type: 'SecureString' }),
  );
  notifySuccess = await importHandler('notify-success');
  notifyFailure = await importHandler('notify-failure');
  openIncident = await importHandler('open-incident');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await slack?.close();
  await aws?.close();
});

describe('Slack notifications', () => {
  it('posts one Block Kit message for a promoted image', async () => {
    // Prepare
    slack.respondWith(200);
    const before = slack.received.length;

    // Act
    await invoke(notifySuccess, successInput);

    // Assess
    expect(slack.received.length).toBe(before + 1);
    const message = JSON.stringify(slack.received.at(-1));
    expect(message).toContain(candidate.imageId);
    expect(message).toContain('stable');
  });

  it('posts the failure with its error name and cause', async () => {
    // Prepare
    slack.respondWith(200);

    // Act
    await invoke(notifyFailure, failureInput);

    // Assess
    const message = JSON.stringify(slack.received.at(-1));
    expect(message).toContain('ProbeFailed');
    expect(message).toContain('no-authorized-keys');
  });

  it('throws SlackDeliveryFailed after bounded retries when Slack answers 500, without leaking the URL', async () => {
    // Prepare
    slack.respondWith(500);
    const before = slack.received.length;

    // Act
    const error = await invokeExpectingError(notifySuccess, successInput);

    // Assess
    expect(error.name).toBe('SlackDeliveryFailed');
    expect(error.message).not.toContain(slack.url);
    expect(slack.received.length - before).toBe(3);
  });
});

describe('OpenIncident', () => {
  it('opens one incident per execution: a retried task returns the same incident', async () => {
    // Act
    const first = await invoke(openIncident, failureInput);
    const retried = await invoke(openIncident, failureInput);

    // Assess
    expect(retried.incidentArn).toBe(first.incidentArn);
    expect(aws.proxy.incidents.started).toHaveLength(1);
    expect(aws.proxy.incidents.started[0]).toMatchObject({
      responsePlanArn: PLAN,
      clientToken: build.executionName,
      impact: 3,
    });
    expect(aws.proxy.incidents.started[0]?.title).toBe('image factory: web builds fail in CheckProbeResult');
    expect(JSON.stringify(aws.proxy.incidents.started[0]?.triggerDetails)).toContain(build.buildId);
  });

  it("adds another build's failure of the same pipeline and state to the open incident", async () => {
    // Prepare: a later build (another execution) of pipeline web fails in the same state
    const later = buildDocument({ pipeline: 'web', commit: 'c'.repeat(40), incidentResponsePlanArn: PLAN });
    expect(later.executionName).not.toBe(build.executionName);

    // Act
    const result = await invoke(openIncident, { ...failureInput, build: later });

    // Assess
    expect(result).toEqual({
      incidentArn: aws.proxy.incidents.started[0]?.incidentRecordArn,
      deduplicated: true,
    });
    expect(aws.proxy.incidents.started).toHaveLength(1);
    const event = aws.proxy.incidents.started[0]?.timeline.at(-1);
    expect(event).toMatchObject({ eventType: 'Custom Event', clientToken: later.executionName });
    expect(event?.eventData).toContain(later.buildId);
  });

  it('propagates an Incident Manager failure (the ASL catches it)', async () => {
    // Prepare
    aws.proxy.incidents.failWith();
    const input = {
      ...failureInput,
      build: buildDocument({ pipeline: 'api', incidentResponsePlanArn: PLAN }),
    };

    // Act
    const error = await invokeExpectingError(openIncident, input);

    // Assess
    expect(error.name).toBe('ResourceNotFoundException');
    expect(aws.proxy.incidents.started).toHaveLength(1);
  });
});

describe('time per phase and estimated cost from the execution history', () => {
  /** moto's runtime configuration (`/moto-api/config`), shared by every file: restored after use. */
  const motoConfig = async (config: Record<string, unknown>): Promise<void> => {
    const response = await fetch(`${aws.motoEndpoint}/moto-api/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(config),
    });
    if (!response.ok) throw new Error(`moto config failed: HTTP ${response.status}`);
  };

  it("reads its own stack's execution: Time and Estimated cost fields, execution and image buttons", async () => {
    // Prepare: a finished execution of the stack's state machine (a 1 s bake, a test instance).
    slack.respondWith(200);
    // moto runs executions in a backend of its own while execute_state_machine is on: every call
    // of this test, the handler's GetExecutionHistory included, is made under it.
    const stateMachineArn = STATE_MACHINE_ARN;
    await motoConfig({ stepfunctions: { execute_state_machine: true } });
    try {
      await aws.sfn.send(
        new CreateStateMachineCommand({
          name: stateMachineArn.split(':').at(-1),
          definition: JSON.stringify({
            StartAt: 'PrepareBuild',
            States: {
              PrepareBuild: { Type: 'Pass', Next: 'BakeImage' },
              BakeImage: { Type: 'Wait', Seconds: 1, Next: 'LaunchTestInstance' },
              LaunchTestInstance: { Type: 'Pass', Next: 'TerminateTestInstance' },
              TerminateTestInstance: { Type: 'Pass', Next: 'NotifySuccess' },
              NotifySuccess: { Type: 'Pass', End: true },
            },
          }),
          roleArn: 'arn:aws:iam::123456789012:role/image-factory-states',
        }),
      );
      const { executionArn } = await aws.sfn.send(
        new StartExecutionCommand({ stateMachineArn, name: build.executionName }),
      );
      for (let i = 0; i < 100; i += 1) {
        const { status } = await aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
        if (status !== 'RUNNING') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // Act
      await invoke(notifySuccess, { ...successInput, build: { ...build, executionArn } });
      await aws.sfn.send(new DeleteStateMachineCommand({ stateMachineArn }));
    } finally {
      await motoConfig({ stepfunctions: { execute_state_machine: false } });
    }

    // Assess
    const message = slack.received.at(-1) as {
      blocks: Array<{ type: string; fields?: Array<{ text: string }>; elements?: Array<{ url: string }> }>;
    };
    const fields = message.blocks.flatMap((block) => block.fields ?? []).map((field) => field.text);
    expect(fields).toContainEqual(expect.stringMatching(/^\*Time\*\n\d+s \(.*bake 1s.*\)$/));
    // One billed minute of the Fargate task (1 vCPU, 2 GB, x86: the packaged sizes).
    expect(fields).toContainEqual(
      expect.stringMatching(
        /^\*Estimated cost\*\n\$0\.\d{4} \(.*Fargate \$0\.0008.*\) at us-east-1 list prices$/,
      ),
    );
    const buttons = message.blocks.find((block) => block.type === 'actions')?.elements ?? [];
    expect(buttons.map((button) => button.url)).toEqual([
      expect.stringContaining('/states/home?region=us-east-1#/v2/executions/details/'),
      `https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#ImageDetails:imageId=${candidate.imageId}`,
    ]);
  });

  it('sends the report without them when the history cannot be read, saying why', async () => {
    // Prepare: the stack's state machine does not exist (in moto's backend without the interpreter).
    slack.respondWith(200);

    // Act
    await invoke(notifyFailure, failureInput);

    // Assess
    const message = JSON.stringify(slack.received.at(-1));
    expect(message).toContain('ProbeFailed');
    expect(message).toMatch(/time per state and cost unavailable: history not read \(\w+DoesNotExist\)/);
  });
});

describe('Slack unreachable', () => {
  it('throws SlackDeliveryFailed when nothing listens at the webhook URL', async () => {
    // Prepare
    await slack.close();

    // Act
    const error = await invokeExpectingError(notifyFailure, failureInput);

    // Assess
    expect(error.name).toBe('SlackDeliveryFailed');
    expect(error.message).not.toContain(slack.url);
  });
});
