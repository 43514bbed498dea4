/**
 * The `isReady` part of `MachineLauncher` on AWS: a test instance is ready when SSM
 * `DescribeInstanceInformation` reports `PingStatus=Online` for it, i.e. its SSM agent registered
 * and can receive Run Command.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
 */
import { DescribeInstanceInformationCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ClientProvider } from '../clients/lazy-client.js';
import type { MachineLauncher } from '../ports.js';

export class SsmInstanceReadiness implements Pick<MachineLauncher, 'isReady'> {
  constructor(private readonly ssm: ClientProvider<SSMClient>) {}

  async isReady(instanceId: string): Promise<boolean> {
    const result = await this.ssm().send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
    );
    return (result.InstanceInformationList ?? []).some(
      (info) => info.InstanceId === instanceId && info.PingStatus === 'Online',
    );
  }
}
