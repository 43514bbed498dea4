/**
 * AWS wiring: the AWS backend's port instances, wired to the lazily created SDK clients (`../clients/`).
 * Configuration is read where each port is built, so a handler only requires the variables of the
 * ports it touches. Each factory names its clients in its import: a handler that does not use a
 * factory does not bundle its adapter or its client (esbuild drops the unused exports and the
 * SDK packages declare `"sideEffects": false`).
 */

import { autoScalingIn } from '../clients/autoscaling.js';
import { codeCommit } from '../clients/codecommit.js';
import { dynamodb } from '../clients/dynamodb.js';
import { ec2, ec2In } from '../clients/ec2.js';
import { eventBridge } from '../clients/eventbridge.js';
import { inspectorScan } from '../clients/inspector-scan.js';
import { s3 } from '../clients/s3.js';
import { sfn } from '../clients/sfn.js';
import { ssm, ssmIn } from '../clients/ssm.js';
import { ssmIncidents } from '../clients/ssm-incidents.js';
import { config } from '../config.js';
import { MissingConfiguration, SlackDeliveryFailed } from '../errors.js';
import type { RegionalPorts } from '../ports.js';
import { logger } from '../powertools/index.js';
import { SlackWebhookNotifier } from '../slack/webhook-notifier.js';
import { AutoScalingGroups } from './auto-scaling-groups.js';
import { DynamoDbPromotionLedger } from './dynamodb-promotion-ledger.js';
import { Ec2ImageDistributor } from './ec2-image-distributor.js';
import { Ec2ImageStore } from './ec2-image-store.js';
import { Ec2LeftoverStore } from './ec2-leftover-store.js';
import { Ec2MachineLauncher } from './ec2-machine-launcher.js';
import { EventBridgePublisher } from './eventbridge-publisher.js';
import { GitRevisionResolver, HttpsRevisionResolver } from './git-revisions.js';
import { SsmIncidentReporter } from './incident-reporter.js';
import { InspectorScanner } from './inspector-scanner.js';
import { OpsCenterReporter } from './ops-center-reporter.js';
import { S3SbomStore } from './s3-sbom-store.js';
import { SfnExecutionHistory } from './sfn-execution-history.js';
import { SfnExecutionStatus } from './sfn-execution-status.js';
import { PublicParameterSourceImageResolver } from './source-image-resolver.js';
import { SsmChannelPointer } from './ssm-channel-pointer.js';
import { SsmCommandRunner } from './ssm-command-runner.js';
import { SsmInstanceReadiness } from './ssm-instance-readiness.js';
import { ssmSecureString } from './ssm-secure-string.js';

/** The images' SBOMs in the stack's bucket (`SBOM_BUCKET`), read by `factory:sbom` URI. */
export const sbomStore = (): S3SbomStore => new S3SbomStore(s3, config.sbomBucket);

/** Amazon Inspector ScanSbom in the function's region (`inspector-scanner.ts`). */
export const vulnerabilityScanner = (): InspectorScanner => new InspectorScanner(inspectorScan());

export const imageStore = (): Ec2ImageStore =>
  new Ec2ImageStore(ec2, config.stage, (imageIds, error) =>
    logger.warn('image reference scan failed: images kept as in use', { imageIds, error }),
  );
/** Copies and shares images in the regions of a distribution (`CopyImage` in the destination region). */
export const imageDistributor = (): Ec2ImageDistributor => new Ec2ImageDistributor(ec2In, config.stage);

/** One value per region, made on first use. */
const perRegion = <T>(make: (region: string) => T): ((region: string) => T) => {
  const made = new Map<string, T>();
  return (region) => {
    let value = made.get(region);
    if (value === undefined) {
      value = make(region);
      made.set(region, value);
    }
    return value;
  };
};

/** Each region's images (distributed pipelines), one store per region. */
export const regionalImageStores = (): ((region: string) => Ec2ImageStore) =>
  perRegion(
    (region) =>
      new Ec2ImageStore(
        () => ec2In(region),
        config.stage,
        (imageIds, error) =>
          logger.warn('image reference scan failed: images kept as in use', { region, imageIds, error }),
      ),
  );

/** Each region's channel pointers: the parameter of the same name in that region's Parameter Store. */
export const regionalChannelPointers = (): ((region: string) => SsmChannelPointer) =>
  perRegion((region) => new SsmChannelPointer(() => ssmIn(region), config.channelParameterPrefix));

/**
 * Each region's images and channel pointers for distributed pipelines; events go to this stack's
 * bus, with the region they report in their detail.
 */
export const regionalPorts = (): RegionalPorts => ({
  images: regionalImageStores(),
  pointer: regionalChannelPointers(),
  events: perRegion(
    (region) => new EventBridgePublisher(eventBridge, config.eventBusName, { stage: config.stage, region }),
  ),
});
/** The Auto Scaling groups of each region (RolloutChannel), one client per region. */
export const scalingGroups = (): AutoScalingGroups => new AutoScalingGroups(autoScalingIn);
export const leftoverStore = (): Ec2LeftoverStore => new Ec2LeftoverStore(ec2, config.stage, imageStore());
export const executionStatus = (): SfnExecutionStatus => new SfnExecutionStatus(sfn);
export const executionHistory = (): SfnExecutionHistory =>
  new SfnExecutionHistory(sfn, config.stateMachineArn);
export const channelPointer = (): SsmChannelPointer =>
  new SsmChannelPointer(ssm, config.channelParameterPrefix);
export const promotionLedger = (): DynamoDbPromotionLedger =>
  new DynamoDbPromotionLedger(dynamodb, config.promotionLedgerTable, config.stage);
/** The factory's events, on `EVENT_BUS_NAME` (default bus), from this stage and region. */
export const eventPublisher = (): EventBridgePublisher =>
  new EventBridgePublisher(eventBridge, config.eventBusName, { stage: config.stage, region: config.region });
export const sourceResolver = (): PublicParameterSourceImageResolver =>
  new PublicParameterSourceImageResolver(ec2, ssm);
export const machineLauncher = (): Ec2MachineLauncher =>
  new Ec2MachineLauncher(ec2, {
    stage: config.stage,
    instanceType: config.testInstanceType,
    instanceProfile: config.testInstanceProfile,
    subnetId: config.testSubnetId,
    securityGroupIds: config.testSecurityGroupIds,
  });
export const instanceReadiness = (): SsmInstanceReadiness => new SsmInstanceReadiness(ssm);
export const commandRunner = (): SsmCommandRunner => new SsmCommandRunner(ssm, config.probeCommand);
export const slackNotifier = (): SlackWebhookNotifier =>
  new SlackWebhookNotifier(
    ssmSecureString(
      ssm,
      config.slackWebhookParameter,
      (name) => new SlackDeliveryFailed(`parameter ${name} holds no Slack webhook URL`),
    ),
  );

/**
 * Where `OpenIncident` raises a build's failure (`build.alerting`, fixed by PrepareBuild from
 * `ALERTING`): Incident Manager, or OpsCenter in the region of the function.
 * @param accountArnPrefix `arn:<partition>:ssm:<region>:<account>` of the OpsItems' ARNs.
 */
export const incidentReporter = (
  alerting: 'incident-manager' | 'opscenter',
  accountArnPrefix: string,
): SsmIncidentReporter | OpsCenterReporter =>
  alerting === 'incident-manager'
    ? new SsmIncidentReporter(ssmIncidents)
    : new OpsCenterReporter(ssm, accountArnPrefix);

/** The git token of `GIT_TOKEN_PARAMETER` for private HTTPS repositories (cached 5 min), or undefined. */
const gitToken = (): (() => Promise<string | undefined>) => {
  const tokenParameter = config.gitTokenParameter;
  if (tokenParameter === undefined) return async () => undefined;
  return ssmSecureString(
    ssm,
    tokenParameter,
    (name) => new MissingConfiguration(`parameter ${name} holds no git token`),
  );
};

/**
 * Branch heads of image definition repositories (PrepareBuild). CodeCommit clients are made per
 * region of the repository URL (one lazily created client per region, `../clients/codecommit.ts`);
 * the HTTPS token is read from `GIT_TOKEN_PARAMETER` (cached 5 min).
 */
export const revisionResolver = (): GitRevisionResolver =>
  new GitRevisionResolver({ codecommit: codeCommit, token: gitToken() });

/**
 * Branch heads of HTTPS repositories only (github-webhook: GitHub pushes), so that function bundles
 * no CodeCommit client.
 */
export const httpsRevisionResolver = (): HttpsRevisionResolver =>
  new HttpsRevisionResolver({ token: gitToken() });
