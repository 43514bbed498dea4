/**
 * `MachineLauncher` on EC2, without readiness: `isReady` is SSM's (`ssm-instance-readiness.ts`), so
 * the functions that launch or terminate bundle no SSM code and the online check no EC2 code.
 *
 * - `RunInstances` with IMDSv2 required (`MetadataOptions.HttpTokens=required`), an instance
 *   profile that lets the SSM agent register, tags on the instance *and* its volumes, and a
 *   `ClientToken` so a retried launch returns the instance already launched
 *   (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
 * - `TerminateInstances`; `DescribeInstances` filtered by `tag:factory:build-id` for cleanup.
 */

import {
  type _InstanceType,
  type EC2Client,
  paginateDescribeInstances,
  RunInstancesCommand,
  type Tag,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { ClientProvider } from '../clients/lazy-client.js';
import { DEFAULT_ARCHITECTURE } from '../core/architectures.js';
import { TAG, TEST_INSTANCE_ROLE } from '../core/tags.js';
import type { LaunchRequest, MachineLauncher } from '../ports.js';

export interface Ec2LauncherOptions {
  instanceType: string;
  /** This stage: the `factory:stage` tag of every test instance, and the filter of every listing. */
  stage: string;
  /** Instance profile name, or its ARN. */
  instanceProfile: string;
  subnetId?: string | undefined;
  securityGroupIds?: readonly string[];
}

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export class Ec2MachineLauncher implements Omit<MachineLauncher, 'isReady'> {
  constructor(
    private readonly ec2: ClientProvider<EC2Client>,
    private readonly options: Ec2LauncherOptions,
  ) {}

  async launch(request: LaunchRequest): Promise<{ instanceId: string }> {
    const tags: Tag[] = [
      { Key: TAG.stage, Value: this.options.stage },
      { Key: TAG.pipeline, Value: request.pipeline },
      { Key: TAG.architecture, Value: request.architecture ?? DEFAULT_ARCHITECTURE },
      { Key: TAG.buildId, Value: request.buildId },
      { Key: TAG.role, Value: TEST_INSTANCE_ROLE },
      { Key: TAG.execution, Value: request.executionName },
      { Key: TAG.name, Value: `${request.pipeline} test ${request.buildId}` },
    ];
    const profile = this.options.instanceProfile;
    const result = await this.ec2().send(
      new RunInstancesCommand({
        ImageId: request.imageId,
        // The build's own (PrepareBuild matched it to the architecture), else the configured one.
        InstanceType: (request.instanceType ?? this.options.instanceType) as _InstanceType,
        MinCount: 1,
        MaxCount: 1,
        ClientToken: request.idempotencyToken.slice(0, 64),
        IamInstanceProfile: profile.startsWith('arn:') ? { Arn: profile } : { Name: profile },
        MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
        InstanceInitiatedShutdownBehavior: 'terminate',
        ...(this.options.subnetId ? { SubnetId: this.options.subnetId } : {}),
        ...(this.options.securityGroupIds?.length
          ? { SecurityGroupIds: [...this.options.securityGroupIds] }
          : {}),
        TagSpecifications: [
          { ResourceType: 'instance', Tags: tags },
          { ResourceType: 'volume', Tags: tags },
        ],
      }),
    );
    const instanceId = result.Instances?.[0]?.InstanceId;
    if (!instanceId) throw new Error(`RunInstances returned no instance for ${request.imageId}`);
    return { instanceId };
  }

  async terminate(instanceIds: readonly string[]): Promise<string[]> {
    if (instanceIds.length === 0) return [];
    try {
      await this.ec2().send(new TerminateInstancesCommand({ InstanceIds: [...instanceIds] }));
      return [...instanceIds];
    } catch (error) {
      if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
      if (instanceIds.length === 1) return [];
      // One unknown id fails the whole call: retry one by one and skip the unknown ones.
      const terminated: string[] = [];
      for (const id of instanceIds) terminated.push(...(await this.terminate([id])));
      return terminated;
    }
  }

  async listByBuildId(buildId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of paginateDescribeInstances(
      { client: this.ec2() },
      {
        Filters: [
          { Name: `tag:${TAG.buildId}`, Values: [buildId] },
          { Name: `tag:${TAG.role}`, Values: [TEST_INSTANCE_ROLE] },
          { Name: `tag:${TAG.stage}`, Values: [this.options.stage] },
          { Name: 'instance-state-name', Values: LIVE_STATES },
        ],
      },
    )) {
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? [])
          if (instance.InstanceId) ids.push(instance.InstanceId);
      }
    }
    return ids;
  }
}
