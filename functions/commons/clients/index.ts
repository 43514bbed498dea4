/**
 * AWS SDK clients, created once per cold start and captured by the tracer.
 *
 * Retries use the SDK's standard retry mode (exponential backoff with jitter) with up to 5 attempts.
 * Region and endpoints come from the SDK's standard configuration, so setting `AWS_ENDPOINT_URL`
 * (or a service-specific `AWS_ENDPOINT_URL_<SERVICE>`) targets an emulator such as moto server
 * without any code change: https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { SSMIncidentsClient } from '@aws-sdk/client-ssm-incidents';
import { tracer } from '../powertools/index.js';

const retry = { maxAttempts: 5, retryMode: 'standard' } as const;

export const ec2 = tracer.captureAWSv3Client(new EC2Client(retry));
export const ssm = tracer.captureAWSv3Client(new SSMClient(retry));
export const sfn = tracer.captureAWSv3Client(new SFNClient(retry));
export const ssmIncidents = tracer.captureAWSv3Client(new SSMIncidentsClient(retry));
