/**
 * The one Logger, Tracer and Metrics of the factory's functions.
 * Service name, log level and metrics namespace come from the environment only
 * (`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL`, `POWERTOOLS_METRICS_NAMESPACE`; set in
 * `serverless.yml`), so code never overrides the deployment's tuning.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

export const logger = new Logger();
export const tracer = new Tracer();
export const metrics = new Metrics();

export { MetricUnit } from '@aws-lambda-powertools/metrics';
