/**
 * `ChannelPointer` on SSM Parameter Store: one `String` parameter per pipeline and channel,
 * `<prefix>/<pipeline>/<channel>`, with `DataType=aws:ec2:image` so that launch templates can use
 * `resolve:ssm:<name>`. `PutParameter` with `Overwrite` moves it; `GetParameterHistory` is the
 * rollback trail (SSM keeps the last 100 versions).
 *
 * `PutParameter` with `DataType: aws:ec2:image` returns before SSM has validated the AMI: "a
 * successful HTTP 200 response does not guarantee that your parameter was successfully created or
 * updated. The aws:ec2:image value is validated asynchronously ... the parameter will not be
 * created or updated" when it fails. So {@link SsmChannelPointer.point} reads the written version
 * back (`GetParameter` `<name>:<version>`) until it holds the image, a bounded number of times.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameterHistory.html
 */
import {
  GetParameterCommand,
  PutParameterCommand,
  paginateGetParameterHistory,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { ClientProvider } from '../clients/lazy-client.js';
import { ChannelPointerNotConfirmed } from '../errors.js';
import type { ChannelPointer, ChannelPosition } from '../ports.js';

/** How {@link SsmChannelPointer.point} waits for the asynchronous `aws:ec2:image` validation. */
export interface ConfirmOptions {
  /** Reads of the written version before giving up (default 10). */
  attempts?: number;
  /** Pause between reads, in milliseconds (default 1000: the validation takes seconds). */
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Errors of `GetParameter <name>:<version>` while the new version is not visible (yet). */
const NOT_YET = new Set(['ParameterVersionNotFound', 'ParameterNotFound']);

export class SsmChannelPointer implements ChannelPointer {
  readonly #confirm: Required<ConfirmOptions>;

  constructor(
    private readonly client: ClientProvider<SSMClient>,
    /** Parameter name prefix without trailing slash, e.g. `/image-factory/channels`. */
    private readonly prefix: string,
    confirm: ConfirmOptions = {},
  ) {
    this.#confirm = {
      attempts: confirm.attempts ?? 10,
      intervalMs: confirm.intervalMs ?? 1000,
      sleep: confirm.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms))),
    };
  }

  /** Parameter name of a channel. */
  parameterName(pipeline: string, channel: string): string {
    return `${this.prefix}/${pipeline}/${channel}`;
  }

  async current(pipeline: string, channel: string): Promise<ChannelPosition | undefined> {
    const name = this.parameterName(pipeline, channel);
    try {
      const { Parameter } = await this.client().send(new GetParameterCommand({ Name: name }));
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
    const { Version } = await this.client().send(
      new PutParameterCommand({
        Name: name,
        Value: imageId,
        Type: 'String',
        DataType: 'aws:ec2:image',
        Overwrite: true,
        Description: `current image of ${pipeline}/${channel} (image factory)`,
      }),
    );
    if (Version === undefined)
      throw new ChannelPointerNotConfirmed(`PutParameter ${name} returned no version`);
    await this.confirmVersion(name, Version, imageId);
    return { imageId, version: Version, location: name };
  }

  /**
   * Wait until version `version` of `name` holds `imageId`.
   * @throws ChannelPointerNotConfirmed when it never does (validation failed or took too long).
   */
  private async confirmVersion(name: string, version: number, imageId: string): Promise<void> {
    let seen = 'nothing';
    for (let attempt = 1; attempt <= this.#confirm.attempts; attempt += 1) {
      try {
        const { Parameter } = await this.client().send(
          new GetParameterCommand({ Name: `${name}:${version}` }),
        );
        if (Parameter?.Value === imageId) return;
        seen = `value ${Parameter?.Value ?? '(none)'}`;
      } catch (error) {
        if (!NOT_YET.has((error as Error).name)) throw error;
        seen = (error as Error).name;
      }
      if (attempt < this.#confirm.attempts) await this.#confirm.sleep(this.#confirm.intervalMs);
    }
    throw new ChannelPointerNotConfirmed(
      `${name} version ${version} does not hold ${imageId} after ${this.#confirm.attempts} reads (last: ${seen}); ` +
        'SSM validates aws:ec2:image values asynchronously and leaves the parameter unchanged when the AMI is not available',
    );
  }

  async history(pipeline: string, channel: string): Promise<ChannelPosition[]> {
    const name = this.parameterName(pipeline, channel);
    const positions: ChannelPosition[] = [];
    try {
      for await (const page of paginateGetParameterHistory({ client: this.client() }, { Name: name })) {
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
}
