/**
 * The AWS backend's port instances, wired to the module-scope SDK clients.
 * Configuration is read where each port is first used, so a handler only requires the variables
 * of the ports it touches.
 */

import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { ec2, ssm, ssmIncidents } from '../clients/index.js';
import { config } from '../config.js';
import { MissingConfiguration } from '../errors.js';
import { logger, tracer } from '../powertools/index.js';
import { Ec2ImageStore } from './ec2-image-store.js';
import { Ec2MachineLauncher } from './ec2-machine-launcher.js';
import { GitRevisionResolver } from './git-revisions.js';
import { SsmIncidentReporter } from './incident-reporter.js';
import { SlackWebhookNotifier, ssmSecureString } from './slack-notifier.js';
import { PublicParameterSourceImageResolver } from './source-image-resolver.js';
import { SsmChannelPointer } from './ssm-channel-pointer.js';
import { SsmCommandRunner } from './ssm-command-runner.js';

export const imageStore = (): Ec2ImageStore =>
  new Ec2ImageStore(ec2, (imageIds, error) =>
    logger.warn('image reference scan failed: images kept as in use', { imageIds, error }),
  );
export const channelPointer = (): SsmChannelPointer =>
  new SsmChannelPointer(ssm, config.channelParameterPrefix);
export const sourceResolver = (): PublicParameterSourceImageResolver =>
  new PublicParameterSourceImageResolver(ec2, ssm);
export const machineLauncher = (): Ec2MachineLauncher =>
  new Ec2MachineLauncher(ec2, ssm, {
    instanceType: config.testInstanceType,
    instanceProfile: config.testInstanceProfile,
    subnetId: config.testSubnetId,
    securityGroupIds: config.testSecurityGroupIds,
  });
export const commandRunner = (): SsmCommandRunner => new SsmCommandRunner(ssm, config.probeCommand);
export const slackNotifier = (): SlackWebhookNotifier =>
  new SlackWebhookNotifier(ssmSecureString(ssm, config.slackWebhookParameter));
export const incidentReporter = (): SsmIncidentReporter => new SsmIncidentReporter(ssmIncidents);

/**
 * Branch heads of image definition repositories (PrepareBuild). CodeCommit clients are made per
 * region of the repository URL; the HTTPS token is read from `GIT_TOKEN_PARAMETER` (cached 5 min).
 */
export const revisionResolver = (): GitRevisionResolver => {
  const clients = new Map<string, CodeCommitClient>();
  const tokenParameter = config.gitTokenParameter;
  const secrets = new SSMProvider({ awsSdkV3Client: ssm });
  return new GitRevisionResolver({
    codecommit: (region) => {
      let client = clients.get(region);
      if (client === undefined) {
        client = tracer.captureAWSv3Client(
          new CodeCommitClient({ region, maxAttempts: 5, retryMode: 'standard' }),
        );
        clients.set(region, client);
      }
      return client;
    },
    token: async () => {
      if (tokenParameter === undefined) return undefined;
      const value = await secrets.get(tokenParameter, { decrypt: true, maxAge: 300 });
      if (typeof value !== 'string' || value === '') {
        throw new MissingConfiguration(`parameter ${tokenParameter} holds no git token`);
      }
      return value;
    },
  });
};
