/**
 * The emulator boundary refuses what AWS refuses: every request through the MotoGapProxy is
 * validated against the AWS service model (botocore's, `doubles/service-model.ts`) before moto or a
 * double sees it. These tests send raw SDK requests through the proxy; the handlers' own requests
 * are validated the same way in every other file.
 */
import { DescribeImageReferencesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestValidator } from './doubles/service-model.js';
import { type AwsSide, SETUP_TIMEOUT_MS, startAwsSide } from './harness.js';
import { DUMMY_AWS_ENV, TEST_REGION } from './moto.js';

let aws: AwsSide;
let ec2: EC2Client;
let ssm: SSMClient;
let sfn: SFNClient;

beforeAll(async () => {
  aws = await startAwsSide();
  const config = {
    endpoint: aws.proxy.endpoint,
    region: TEST_REGION,
    maxAttempts: 1,
    credentials: { accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: 'testing' },
  };
  ec2 = new EC2Client(config);
  ssm = new SSMClient(config);
  sfn = new SFNClient(config);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const client of [ec2, ssm, sfn]) client?.destroy();
  await aws?.close();
});

const ids = (count: number) => Array.from({ length: count }, (_, i) => `ami-${String(i).padStart(17, '0')}`);
const refused = async (send: () => Promise<unknown>) => {
  try {
    await send();
  } catch (error) {
    return error as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the request to be refused');
};

describe('requests validated against the AWS service model', () => {
  it('DescribeImageReferences takes 1 to 10 image ids (InvalidParameterValue beyond)', async () => {
    // Act
    const ten = await ec2.send(
      new DescribeImageReferencesCommand({
        ImageIds: ids(10),
        ResourceTypes: [{ ResourceType: 'ec2:Instance' }],
      }),
    );
    const eleven = await refused(() =>
      ec2.send(
        new DescribeImageReferencesCommand({
          ImageIds: ids(11),
          ResourceTypes: [{ ResourceType: 'ec2:Instance' }],
        }),
      ),
    );

    // Assess
    expect(ten.ImageReferences).toEqual([]);
    expect(eleven.name).toBe('InvalidParameterValue');
    expect(eleven.$metadata?.httpStatusCode).toBe(400);
    expect(eleven.message).toMatch(/ImageIds must have at most 10 items, got 11/);
    const last = aws.proxy.operations.at(-1);
    expect(last).toMatchObject({ operation: 'DescribeImageReferences', answeredBy: 'validator' });
  });

  it('refuses a value outside an enum (EC2) and a missing required member (EC2 MissingParameter)', async () => {
    // Act
    const badEnum = await refused(() =>
      ec2.send(
        new DescribeImageReferencesCommand({
          ImageIds: ids(1),
          ResourceTypes: [{ ResourceType: 'ec2:Volume' as never }],
        }),
      ),
    );
    const missing = await refused(() =>
      ec2.send(new DescribeImageReferencesCommand({ ImageIds: undefined as never })),
    );

    // Assess
    expect(badEnum.name).toBe('InvalidParameterValue');
    expect(badEnum.message).toMatch(/ResourceTypes\[\]\.ResourceType must be one of/);
    expect(missing.name).toBe('MissingParameter');
  });

  it('refuses JSON-protocol requests beyond string limits (ValidationException)', async () => {
    // Act
    const longName = await refused(() =>
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:golden-image-factory-test',
          name: 'x'.repeat(81),
          input: '{}',
        }),
      ),
    );
    const emptyName = await refused(() => ssm.send(new GetParameterCommand({ Name: '' })));
    const badTier = await refused(() =>
      ssm.send(new PutParameterCommand({ Name: '/t/x', Value: 'v', Type: 'String', Tier: 'Huge' as never })),
    );

    // Assess
    for (const error of [longName, emptyName, badTier]) {
      expect(error.name).toBe('ValidationException');
      expect(error.$metadata?.httpStatusCode).toBe(400);
    }
    expect(longName.message).toMatch(/name must have at most 80 characters/);
  });

  it('takes the limit from the model itself (botocore), as the API reference states it', () => {
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageReferences.html:
    // ImageId.N "Minimum number of 1 item. Maximum number of 10 items."
    const model = new RequestValidator().model('ec2');
    const input = model.shapes[model.operations.DescribeImageReferences?.input?.shape ?? ''];
    const list = model.shapes[input?.members?.ImageIds?.shape ?? ''];

    expect(input?.required).toContain('ImageIds');
    expect(list).toMatchObject({ type: 'list', min: 1, max: 10 });
    expect([...aws.proxy.validator.checked.keys()]).toContain('ec2:DescribeImageReferences ImageIds max 10');
  });
});
