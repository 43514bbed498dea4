/**
 * `ChannelPointer` on SSM Parameter Store: one `String` parameter per pipeline and channel,
 * `<prefix>/<pipeline>/<channel>`, with `DataType=aws:ec2:image` so that launch templates can use
 * `resolve:ssm:<name>`. `PutParameter` with `Overwrite` moves it; `GetParameterHistory` is the
 * rollback trail (SSM keeps the last 100 versions).
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameterHistory.html
 * `GetParametersByPath` on `<prefix>/<pipeline>` (one level, paginated) lists a pipeline's channels:
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html
 */
import {
  GetParameterCommand,
  PutParameterCommand,
  paginateGetParameterHistory,
  paginateGetParametersByPath,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { ChannelPointer, ChannelPosition } from '../ports.js';

export class SsmChannelPointer implements ChannelPointer {
  constructor(
    private readonly client: SSMClient,
    /** Parameter name prefix without trailing slash, e.g. `/image-factory/channels`. */
    private readonly prefix: string,
  ) {}

  /** Parameter name of a channel. */
  parameterName(pipeline: string, channel: string): string {
    return `${this.prefix}/${pipeline}/${channel}`;
  }

  async current(pipeline: string, channel: string): Promise<ChannelPosition | undefined> {
    const name = this.parameterName(pipeline, channel);
    try {
      const { Parameter } = await this.client.send(new GetParameterCommand({ Name: name }));
      if (!Parameter?.Value) return undefined;
      return {
        imageId: Parameter.Value,
        version: Parameter.Version ?? 0,
        location: name,
        ...(Parameter.LastModifiedDate ? { updatedAt: Parameter.LastModifiedDate.toISOString() } : {}),
      };
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return undefined;
      throw error;
    }
  }

  async point(pipeline: string, channel: string, imageId: string): Promise<ChannelPosition> {
    const name = this.parameterName(pipeline, channel);
    const { Version } = await this.client.send(
      new PutParameterCommand({
        Name: name,
        Value: imageId,
        Type: 'String',
        DataType: 'aws:ec2:image',
        Overwrite: true,
        Description: `current image of ${pipeline}/${channel} (image factory)`,
      }),
    );
    return { imageId, version: Version ?? 0, location: name };
  }

  async history(pipeline: string, channel: string): Promise<ChannelPosition[]> {
    const name = this.parameterName(pipeline, channel);
    const positions: ChannelPosition[] = [];
    try {
      for await (const page of paginateGetParameterHistory({ client: this.client }, { Name: name })) {
        for (const entry of page.Parameters ?? []) {
          if (!entry.Value) continue;
          positions.push({
            imageId: entry.Value,
            version: entry.Version ?? 0,
            location: name,
            ...(entry.LastModifiedDate ? { updatedAt: entry.LastModifiedDate.toISOString() } : {}),
          });
        }
      }
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return [];
      throw error;
    }
    return positions.sort((a, b) => b.version - a.version);
  }

  async channels(pipeline: string): Promise<string[]> {
    const path = `${this.prefix}/${pipeline}`;
    const names: string[] = [];
    for await (const page of paginateGetParametersByPath(
      { client: this.client },
      { Path: path, Recursive: false },
    )) {
      for (const parameter of page.Parameters ?? []) {
        if (parameter.Name?.startsWith(`${path}/`)) names.push(parameter.Name.slice(path.length + 1));
      }
    }
    return names;
  }
}
