/**
 * Inputs of the AWS wall-clock and cost model (`bench/aws-model.ts`) that are not in this repository:
 * step durations, each with its source (the list prices are `functions/commons/core/build-cost.ts`'s). ASL facts (waits, poll bounds) and
 * deployment facts (memory size, instance and task sizes) are read from the code, not written here.
 *
 * Durations are in seconds, as three scenarios: `low` (a fast run), `expected`, `high` (a slow but
 * normal run, not a failure). Where no AWS document gives a figure, the value is an assumption,
 * said so, with its reasoning; replace it with the Packer log and execution history of a first real
 * build (`aws stepfunctions get-execution-history`).
 */

/** A figure with its source. */
export interface Sourced<T> {
  readonly value: T;
  readonly source: string;
}

/** Low / expected / high seconds of a step. */
export interface Duration {
  readonly low: number;
  readonly expected: number;
  readonly high: number;
  readonly source: string;
}

export type Scenario = 'low' | 'expected' | 'high';
export const SCENARIOS: readonly Scenario[] = ['low', 'expected', 'high'];

/** The list prices: one table for the model, the build report and `factory status`. */
export { PRICES } from '#commons/core/build-cost.js';

/** Boot to SSM `PingStatus=Online` after RunInstances returned: a distribution of scenarios. */
export const ONLINE_AFTER: Sourced<readonly { seconds: number; weight: number }[]> = {
  value: [
    { seconds: 30, weight: 0.2 },
    { seconds: 60, weight: 0.5 },
    { seconds: 120, weight: 0.2 },
    { seconds: 360, weight: 0.1 },
  ],
  source:
    'pending→running ≈ 16.5 s and launch→SSH ≈ 23-26 s on t3/m7i (https://github.com/brevdev/ec2-coldboot-research), ' +
    'running→SSH ≈ 20 s (https://www.daemonology.net/blog/2021-08-12-EC2-boot-time-benchmarking.html); the SSM agent ' +
    'registers "from 30 s to several minutes", 6 min observed (https://github.com/DataDog/stratus-red-team/issues/108), ' +
    '"tens of seconds to minutes" for the Ubuntu 24.04 snap agent ' +
    '(https://github.com/aws-samples/sample-one-click-generative-ai-solutions/pull/93); issue 12: about 4 of our ' +
    '15 s checks fail (≈ 60 s). Weights are an assumption.',
};

/** Lambda cold start (init) added to the first invocation of each function in an execution. */
export const LAMBDA_INIT: Duration = {
  low: 0.15,
  expected: 0.3,
  high: 0.8,
  source:
    'npm run bench:lambdas (init of the minified bundles, 2-core dev machine); 256 MB on Lambda is a fraction of a vCPU (assumed slower)',
};

/** Handler time of one Lambda task (one to three AWS API calls), warm. */
const API_CALLS: Duration = {
  low: 0.1,
  expected: 0.3,
  high: 1,
  source: 'assumed: 1-3 AWS API calls of 50-300 ms each',
};

/** Handler time per Lambda Task state (warm; {@link LAMBDA_INIT} is added to the first call). */
export const LAMBDA_TASKS: Record<string, Duration> = {
  PrepareBuild: API_CALLS,
  FindCandidateImage: API_CALLS,
  // Two S3 GetObject (the candidate's SBOM and the channel image's, a few MB each), the diff, and
  // one Inspector ScanSbom of up to 5000 components with a response of up to 10 MB.
  InspectCandidate: {
    low: 1,
    expected: 3,
    high: 10,
    source:
      'assumed: two S3 reads of a few MB plus one ScanSbom call; AWS publishes no ScanSbom latency (API reference: at most 5000 components, 10 MB response)',
  },
  LaunchTestInstance: {
    low: 1,
    expected: 1.5,
    high: 4,
    source:
      'RunInstances ≈ 1.5 s (https://www.daemonology.net/blog/2021-08-12-EC2-boot-time-benchmarking.html)',
  },
  CheckInstanceOnline: API_CALLS,
  ProbeTestInstance: API_CALLS,
  CheckProbeResult: API_CALLS,
  TerminateTestInstance: API_CALLS,
  // Distribution, per region (DistributeImage Map): at home the candidate is the region's image, so
  // CopyImage is not called; elsewhere CopyImage returns at once and the copy completes in the
  // background, polled by CheckRegionCopy (DescribeImages). Sharing is one ModifyImageAttribute
  // plus one ModifySnapshotAttribute per snapshot.
  CopyImageToRegion: API_CALLS,
  CheckRegionCopy: API_CALLS,
  ShareRegionCopy: API_CALLS,
  CheckDistribution: {
    low: 0.05,
    expected: 0.1,
    high: 0.3,
    source: 'assumed: no AWS call (the fail policy)',
  },
  // One conditional DynamoDB write each (the promotion lease); DynamoDB answers in single-digit
  // milliseconds (https://aws.amazon.com/dynamodb/), so the Lambda round trip dominates.
  AcquirePromotionLease: API_CALLS,
  PromoteImage: API_CALLS,
  ReleasePromotionLease: API_CALLS,
  ApplyRetention: {
    low: 0.5,
    expected: 2,
    high: 20,
    source: 'assumed: DescribeImages pages + a few deregistrations',
  },
  NotifySuccess: { low: 0.3, expected: 0.6, high: 2, source: 'assumed: SSM GetParameter + one Slack POST' },
};

/** The BakeImage task (Fargate Packer runner, ecs:runTask.sync), phase by phase. */
export const BAKE_PHASES: Record<string, Duration & { builder: 'none' | 'running' | 'stopped' }> = {
  fargateStart: {
    low: 30,
    expected: 60,
    high: 120,
    builder: 'none',
    source:
      'Fargate pulls the whole image for every task, time grows with its size ' +
      '(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html); 55 s for a 2.7 GB image ' +
      '(https://drorspei.com/2026/01/23/my-fargate-startup-is-slow-an-investigation-into-docker-layer-optimization); ours is Debian slim + Packer + Ansible',
  },
  builderToSsh: {
    low: 25,
    expected: 40,
    high: 90,
    builder: 'running',
    source:
      'launch→SSH ≈ 23-26 s (https://github.com/brevdev/ec2-coldboot-research), plus cloud-init settling',
  },
  ansible: {
    low: 180,
    expected: 300,
    high: 600,
    builder: 'running',
    source:
      'assumed: the same playbook takes ~466 s of a TCG bake locally (issue 12), where a trivial task costs 9-20 s; ' +
      'on a t3.small the apt transactions (network) dominate',
  },
  cleanupAndValidate: {
    low: 10,
    expected: 20,
    high: 60,
    builder: 'running',
    source: 'assumed: two shell scripts',
  },
  stopBuilder: {
    low: 15,
    expected: 30,
    high: 90,
    builder: 'running',
    source: 'assumed: guest shutdown + EC2 stop',
  },
  createAmi: {
    low: 120,
    expected: 300,
    high: 900,
    builder: 'stopped',
    source:
      '"it can take several minutes for the AMI-creation process to complete" ' +
      '(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/creating-an-ami-ebs.html); 8 GiB first snapshot',
  },
  teardown: {
    low: 10,
    expected: 20,
    high: 40,
    builder: 'stopped',
    source:
      'assumed: terminate builder, delete key pair / security group, container exit, .sync notices the stop',
  },
};

/** The probe suite on the test instance, from SendCommand to a final status. */
export const PROBE_RUN: Duration = {
  low: 10,
  expected: 30,
  high: 120,
  source:
    'assumed: Run Command delivery (seconds) + probe.sh checks (local runs finish within one 15 s poll)',
};

/** Trigger latency of a git push: webhook or EventBridge delivery to StartExecution. */
export const PUSH_TRIGGER: Duration = {
  low: 1,
  expected: 2,
  high: 10,
  source: 'assumed: GitHub webhook / EventBridge delivery + one Lambda cold start',
};
