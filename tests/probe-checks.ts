/**
 * The probe's check names as the tests expect them, in the order probe/probe.sh runs them: the
 * common checks of every image definition per backend, and the `web` definition's own drop-ins
 * (probe/checks.d/web/). Shared by the unit tests of the runner and the e2e stage.
 */

/** Common checks on the local backend (qemu guest agent). */
export const COMMON_LOCAL_CHECKS = [
  'service-ssh',
  'service-time-sync',
  'service-guest-agent',
  'machine-id',
  'ssh-host-keys',
  'authorized-keys',
  'ssh-hardening',
  'cloud-init',
] as const;

/** Common checks on AWS (SSM Run Command): the SSM agent instead of the guest agent, plus IMDSv2. */
export const COMMON_AWS_CHECKS = [
  'service-ssh',
  'service-time-sync',
  'service-ssm-agent',
  'machine-id',
  'ssh-host-keys',
  'authorized-keys',
  'ssh-hardening',
  'cloud-init',
  'imdsv1-refused',
] as const;

/** The `web` definition's own checks. */
export const WEB_CHECKS = ['service-nginx', 'health-endpoint'] as const;
