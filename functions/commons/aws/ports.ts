/**
 * The AWS backend's port instances, wired to the lazily created SDK clients (`../clients/`).
 * Configuration is read where each port is built, so a handler only requires the variables of the
 * ports it touches. Each factory names its clients in its import: a handler that does not use a
 * factory does not bundle its adapter or its client (esbuild drops the unused exports and the
 * SDK packages declare `"sideEffects": false`).
 */

import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { codeCommit } from '../clients/codecommit.js';
import { dynamodb } from '../clients/dynamodb.js';
import { ec2 } from '../clients/ec2.js';
import { ssm } from '../clients/ssm.js';
import { ssmIncidents } from '../clients/ssm-incidents.js';
import { config } from '../config.js';
import { MissingConfiguration } from '../errors.js';
import { logger } from '../powertools/index.js';
import { DynamoDbPromotionLedger } from './dynamodb-promotion-ledger.js';
import { Ec2ImageStore } from './ec2-image-store.js';
import { Ec2MachineLauncher } from './ec2-machine-launcher.js';
import { GitRevisionResolver } from './git-revisions.js';
import { SsmIncidentReporter } from './incident-reporter.js';
import { SlackWebhookNotifier, ssmSecureString } from './slack-notifier.js';
import { PublicParameterSourceImageResolver } from './source-image-resolver.js';
import { SsmChannelPointer } from './ssm-channel-pointer.js';
import { SsmCommandRunner } from './ssm-command-runner.js';
import { SsmInstanceReadiness } from './ssm-instance-readiness.js';

export const imageStore = (): Ec2ImageStore =>
  new Ec2ImageStore(ec2, (imageIds, error) =>
    logger.warn('image reference scan failed: images kept as in use', { imageIds, error }),
  );
export const channelPointer = (): SsmChannelPointer =>
  new SsmChannelPointer(ssm, config.channelParameterPrefix);
export const promotionLedger = (): DynamoDbPromotionLedger =>
  new DynamoDbPromotionLedger(dynamodb, config.promotionLedgerTable, config.stage);
export const sourceResolver = (): PublicParameterSourceImageResolver =>
  new PublicParameterSourceImageResolver(ec2, ssm);
export const machineLauncher = (): Ec2MachineLauncher =>
  new Ec2MachineLauncher(ec2, {
    instanceType: config.testInstanceType,
    instanceProfile: config.testInstanceProfile,
    subnetId: config.testSubnetId,
    securityGroupIds: config.testSecurityGroupIds,
  });
export const instanceReadiness = (): SsmInstanceReadiness => new SsmInstanceReadiness(ssm);
export const commandRunner = (): SsmCommandRunner => new SsmCommandRunner(ssm, config.probeCommand);
export const slackNotifier = (): SlackWebhookNotifier =>
  new SlackWebhookNotifier(ssmSecureString(ssm, config.slackWebhookParameter));
export const incidentReporter = (): SsmIncidentReporter => new SsmIncidentReporter(ssmIncidents);

/**
 * Branch heads of image definition repositories (PrepareBuild). CodeCommit clients are made per
 * region of the repository URL (one lazily created client per region, `../clients/codecommit.ts`); the HTTPS token is read from `GIT_TOKEN_PARAMETER` (cached 5 min).
 */
export const revisionResolver = (): GitRevisionResolver => {
  const tokenParameter = config.gitTokenParameter;
  let secrets: SSMProvider | undefined;
  return new GitRevisionResolver({
    codecommit: codeCommit,
    token: async () => {
      if (tokenParameter === undefined) return undefined;
      secrets ??= new SSMProvider({ awsSdkV3Client: ssm() });
      const value = await secrets.get(tokenParameter, { decrypt: true, maxAge: 300 });
      if (typeof value !== 'string' || value === '') {
        throw new MissingConfiguration(`parameter ${tokenParameter} holds no git token`);
      }
      return value;
    },
  });
};
