/**
 * `IncidentReporter` on AWS Systems Manager OpsCenter (`CreateOpsItem`), the alert path every
 * account can use (Incident Manager is closed to new customers since 2025-11-07).
 *
 * Deduplication is OpsCenter's own: the operational data key `/aws/dedup` holds
 * `{"dedupString": "<key>"}`; while an OpsItem with that dedup string is open or in progress,
 * Systems Manager creates no new one ("Managing duplicate OpsItems",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/OpsCenter-working-deduplication.html)
 * and `CreateOpsItem` answers `OpsItemAlreadyExistsException` carrying the existing `OpsItemId`
 * (error list of CreateOpsItem, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateOpsItem.html).
 * That OpsItem is then returned with `deduplicated: true`. The caller needs `ssm:CreateOpsItem`.
 */
import { CreateOpsItemCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ClientProvider } from '../clients/lazy-client.js';
import type { IncidentReporter, IncidentRequest } from '../ports.js';

/** `Source` of the OpsItems (1-128 characters; must not start with `aws`). */
export const OPS_ITEM_SOURCE = 'image-factory';

export class OpsCenterReporter implements IncidentReporter {
  constructor(
    private readonly client: ClientProvider<SSMClient>,
    /** `arn:<partition>:ssm:<region>:<account>` of the OpsItems, to return an ARN for an id. */
    private readonly arnPrefix: string,
  ) {}

  async open(request: IncidentRequest): Promise<{ incidentArn: string; deduplicated: boolean }> {
    try {
      const { OpsItemId } = await this.client().send(
        new CreateOpsItemCommand({
          Source: OPS_ITEM_SOURCE,
          Title: request.title.slice(0, 1024),
          Description: request.detail.slice(0, 2048),
          Category: 'Availability',
          Severity: '3',
          Priority: request.impact,
          OperationalData: {
            '/aws/dedup': {
              Type: 'SearchableString',
              Value: JSON.stringify({ dedupString: request.dedupKey }),
            },
            ...(request.link
              ? { execution: { Type: 'String', Value: JSON.stringify({ url: request.link }) } }
              : {}),
          },
        }),
      );
      if (!OpsItemId) throw new Error('CreateOpsItem returned no OpsItemId');
      return { incidentArn: `${this.arnPrefix}:opsitem/${OpsItemId}`, deduplicated: false };
    } catch (error) {
      const existing = (error as { OpsItemId?: string }).OpsItemId;
      if ((error as Error).name === 'OpsItemAlreadyExistsException' && existing)
        return { incidentArn: `${this.arnPrefix}:opsitem/${existing}`, deduplicated: true };
      throw error;
    }
  }
}
