import type { IncidentReporter } from '../ports.js';
import { executionConsoleUrl, inferFailedState } from '../report.js';
import type { Build, CaughtError } from '../schemas.js';

/** Longest dedup key (OpsCenter keeps the dedup string in `/aws/dedup`; 64 keeps it readable). */
const DEDUP_KEY_MAX_LENGTH = 64;

/**
 * The dedup key of a failure: `image-factory:<state machine>:<pipeline>:<failing state>`. The state
 * machine name (from the execution ARN) scopes it to the stage; `local` without an ARN.
 * Pure; never longer than 64 characters.
 */
export function incidentDedupKey(
  build: Pick<Build, 'pipeline' | 'executionArn'>,
  failedState: string,
): string {
  const stateMachine = build.executionArn?.split(':')[6] ?? 'local';
  return `image-factory:${stateMachine}:${build.pipeline}:${failedState}`.slice(0, DEDUP_KEY_MAX_LENGTH);
}

/**
 * State `OpenIncident` (only when `build.alerting` is set): raise the failure as an Incident
 * Manager incident or an OpsCenter OpsItem, one per (stage, pipeline, failing state) while it is
 * open: a later failure with the same key is added to the open one. The client token is the
 * execution name, so a retried task raises nothing twice. Impact/priority 3 (medium): a failed
 * bake keeps the previous image in service.
 * @returns `$.incident` `{ incidentArn, deduplicated }`.
 */
export async function openIncident(
  input: Record<string, unknown> & {
    build: Build & { alerting: NonNullable<Build['alerting']> };
    error?: CaughtError | undefined;
  },
  ports: { incidents: IncidentReporter },
): Promise<{ incidentArn: string; deduplicated: boolean }> {
  const { build, error } = input;
  const failedState = inferFailedState(input, error);
  const link = executionConsoleUrl(build.executionArn);
  return ports.incidents.open({
    ...(build.incidentResponsePlanArn ? { responsePlanArn: build.incidentResponsePlanArn } : {}),
    dedupKey: incidentDedupKey(build, failedState),
    clientToken: build.executionName,
    title: `image factory: ${build.pipeline} builds fail in ${failedState}`,
    impact: 3,
    detail: `build ${build.buildId} (${build.executionName}): ${error?.Error ?? 'unknown error'}: ${error?.Cause ?? 'no cause recorded'}`,
    ...(link ? { link } : {}),
  });
}
