/**
 * The one Logger, Tracer and Metrics of the factory's functions.
 * Service name, log level and metrics namespace come from the environment
 * (`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL`, `POWERTOOLS_METRICS_NAMESPACE`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

const defaults = { serviceName: 'image-factory' };

export const logger = new Logger(defaults);
export const tracer = new Tracer(defaults);
export const metrics = new Metrics({ ...defaults, namespace: 'ImageFactory' });

export { MetricUnit } from '@aws-lambda-powertools/metrics';
