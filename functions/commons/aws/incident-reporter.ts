/**
 * `IncidentReporter` on AWS Systems Manager Incident Manager, for accounts onboarded before it
 * closed to new customers on 2025-11-07
 * (https://docs.aws.amazon.com/incident-manager/latest/userguide/incident-manager-availability-change.html).
 *
 * One open incident per pipeline and failing state: `ListIncidentRecords` (status `OPEN`) finds an
 * open record of this stack's response plan (the plan name is part of the record ARN,
 * `incident-record/<plan>/<id>`) with the same title; the failure is then added to it as a custom
 * timeline event (`CreateTimelineEvent`) instead of opening another. Otherwise `StartIncident`
 * opens one; its `clientToken` (the execution name) makes a retried task open it once.
 * https://docs.aws.amazon.com/incident-manager/latest/APIReference/API_StartIncident.html,
 * https://docs.aws.amazon.com/incident-manager/latest/APIReference/API_ListIncidentRecords.html,
 * https://docs.aws.amazon.com/incident-manager/latest/APIReference/API_CreateTimelineEvent.html
 */
import {
  CreateTimelineEventCommand,
  paginateListIncidentRecords,
  type SSMIncidentsClient,
  StartIncidentCommand,
} from '@aws-sdk/client-ssm-incidents';
import type { ClientProvider } from '../clients/lazy-client.js';
import type { IncidentReporter, IncidentRequest } from '../ports.js';

/** `triggerDetails.source` must not start with `aws.` for customer events. */
const SOURCE = 'image-factory';

/** The response plan name of `arn:…:response-plan/<name>`. */
const planName = (responsePlanArn: string): string => responsePlanArn.split('/').at(-1) ?? '';

export class SsmIncidentReporter implements IncidentReporter {
  constructor(private readonly client: ClientProvider<SSMIncidentsClient>) {}

  /** @throws Error when the request names no response plan, or Incident Manager refuses a call. */
  async open(request: IncidentRequest): Promise<{ incidentArn: string; deduplicated: boolean }> {
    const { responsePlanArn } = request;
    if (!responsePlanArn) throw new Error('an Incident Manager incident needs a response plan ARN');
    const title = request.title.slice(0, 200);
    const open = await this.openIncidentTitled(planName(responsePlanArn), title);
    if (open !== undefined) {
      await this.client().send(
        new CreateTimelineEventCommand({
          incidentRecordArn: open,
          clientToken: request.clientToken,
          eventTime: new Date(),
          eventType: 'Custom Event',
          eventData: JSON.stringify({ detail: request.detail, link: request.link }).slice(0, 12_000),
        }),
      );
      return { incidentArn: open, deduplicated: true };
    }
    const result = await this.client().send(
      new StartIncidentCommand({
        responsePlanArn,
        clientToken: request.clientToken,
        title,
        impact: request.impact,
        triggerDetails: {
          source: SOURCE,
          timestamp: new Date(),
          rawData: JSON.stringify({
            dedupKey: request.dedupKey,
            detail: request.detail,
            link: request.link,
          }).slice(0, 10_000),
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
    return { incidentArn: result.incidentRecordArn, deduplicated: false };
  }

  /** ARN of an open incident record of response plan `plan` titled `title`, if any. */
  private async openIncidentTitled(plan: string, title: string): Promise<string | undefined> {
    for await (const page of paginateListIncidentRecords(
      { client: this.client() },
      { filters: [{ key: 'status', condition: { equals: { stringValues: ['OPEN'] } } }] },
    )) {
      const found = (page.incidentRecordSummaries ?? []).find(
        (record) => record.title === title && record.arn?.includes(`:incident-record/${plan}/`),
      );
      if (found?.arn) return found.arn;
    }
    return undefined;
  }
}
