/**
 * `IncidentReporter` on AWS Systems Manager Incident Manager (`StartIncident`).
 * `clientToken` makes the call idempotent: a retried task with the same execution name returns the
 * incident already opened. https://docs.aws.amazon.com/incident-manager/latest/APIReference/API_StartIncident.html
 */
import { type SSMIncidentsClient, StartIncidentCommand } from '@aws-sdk/client-ssm-incidents';
import type { ClientProvider } from '../clients/lazy-client.js';
import type { IncidentReporter, IncidentRequest } from '../ports.js';

/** `triggerDetails.source` must not start with `aws.` for customer events. */
const SOURCE = 'image-factory';

export class SsmIncidentReporter implements IncidentReporter {
  constructor(private readonly client: ClientProvider<SSMIncidentsClient>) {}

  async open(request: IncidentRequest): Promise<{ incidentArn: string }> {
    const result = await this.client().send(
      new StartIncidentCommand({
        responsePlanArn: request.responsePlanArn,
        clientToken: request.clientToken,
        title: request.title.slice(0, 200),
        impact: request.impact,
        triggerDetails: {
          source: SOURCE,
          timestamp: new Date(),
          rawData: JSON.stringify({ detail: request.detail, link: request.link }).slice(0, 10_000),
        },
        ...(request.link
          ? {
              relatedItems: [
                { identifier: { type: 'OTHER', value: { url: request.link } }, title: 'Execution' },
              ],
            }
          : {}),
      }),
    );
    if (!result.incidentRecordArn) throw new Error('StartIncident returned no incident record ARN');
    return { incidentArn: result.incidentRecordArn };
  }
}
