import type { IncidentReporter } from '../ports.js';
import { executionConsoleUrl, inferFailedState } from '../report.js';
import type { Build, CaughtError } from '../schemas.js';

/**
 * State `OpenIncident` (only when `build.incidentResponsePlanArn` is set): open an incident whose
 * client token is the execution name, so a retried task opens exactly one incident.
 * Impact 3 (medium): a failed bake keeps the previous image in service.
 * @returns `$.incident` `{ incidentArn }`.
 */
export const openIncident = async (
  input: Record<string, unknown> & {
    build: Build & { incidentResponsePlanArn: string };
    error?: CaughtError | undefined;
  },
  ports: { incidents: IncidentReporter },
): Promise<{ incidentArn: string }> => {
  const { build, error } = input;
  const failedState = inferFailedState(input, error);
  const link = executionConsoleUrl(build.executionArn);
  return ports.incidents.open({
    responsePlanArn: build.incidentResponsePlanArn,
    clientToken: build.executionName,
    title: `image factory: ${build.pipeline} build ${build.buildId} failed in ${failedState}`,
    impact: 3,
    detail: `${error?.Error ?? 'unknown error'}: ${error?.Cause ?? 'no cause recorded'}`,
    ...(link ? { link } : {}),
  });
};
