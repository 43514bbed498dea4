/**
 * Named errors the state machine acts on.
 *
 * Each class sets `this.name` to the exact string that `Catch.ErrorEquals` / `Retry.ErrorEquals`
 * in `statemachines/image-factory.asl.yaml` matches (Lambda reports `errorType` = `error.name`).
 * The names are fixed by `docs/design.md` ("Error names"); never rename one without the ASL.
 */

/** Base class: keeps `name` and an optional `cause` on every factory error. */
export abstract class FactoryError extends Error {
  protected constructor(name: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
  }
}

/** A task or trigger input failed its zod schema. The message lists every problem and what is expected. */
export class InvalidInput extends FactoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('InvalidInput', message, options);
  }
}

/** The requested base image is not in the catalog (`core/base-images.ts`). */
export class UnknownBaseImage extends FactoryError {
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super('UnknownBaseImage', `unknown base image "${requested}"; expected one of: ${known.join(', ')}`);
  }
}

/**
 * The requested image definition is not in the catalog (`core/image-definitions.ts`). `pipeline` is
 * set when the name was not given but taken from the pipeline's name.
 */
export class UnknownImageDefinition extends FactoryError {
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
    readonly pipeline?: string,
  ) {
    const source =
      pipeline === undefined ? '' : ` (pipeline "${pipeline}" names none, so its own name was tried)`;
    super(
      'UnknownImageDefinition',
      `unknown image definition "${requested}"${source}; expected one of: ${known.join(', ')}`,
    );
  }
}

/** A source AMI is not owned by the publisher the catalog trusts for that base image. */
export class ForeignBaseImage extends FactoryError {
  constructor(
    readonly imageId: string,
    readonly ownerId: string | undefined,
    readonly expectedOwners: readonly string[],
  ) {
    super(
      'ForeignBaseImage',
      `source image ${imageId} is owned by ${ownerId ?? 'an unknown account'}; expected owner ${expectedOwners.join(' or ')}`,
    );
  }
}

/**
 * A layered build's parent cannot be baked from: the parent pipeline's channel names no image, or
 * the image it names is not this account's image of that pipeline and channel (`core/layering.ts`).
 */
export class UnusableParentImage extends FactoryError {
  constructor(
    readonly parent: { pipeline: string; channel: string },
    readonly reason: string,
  ) {
    super('UnusableParentImage', `parent ${parent.pipeline}/${parent.channel}: ${reason}`);
  }
}

/** No available image carries the build id after the bake. */
export class CandidateNotFound extends FactoryError {
  constructor(readonly buildId: string) {
    super('CandidateNotFound', `no available candidate image tagged factory:build-id=${buildId}`);
  }
}

/**
 * Another execution holds the promotion lease of the channel. The ASL retries `AcquirePromotionLease`
 * on this error (the holder releases it when its promotion ends, or it lapses after its TTL).
 */
export class PromotionLeaseHeld extends FactoryError {
  constructor(
    readonly key: string,
    readonly holder: string,
    readonly expiresAt: string,
  ) {
    super('PromotionLeaseHeld', `promotion lease ${key} is held by ${holder} until ${expiresAt}`);
  }
}

/** The test instance did not report online within the poll bound. */
export class InstanceNeverOnline extends FactoryError {
  constructor(
    readonly instanceId: string,
    readonly attempts: number,
  ) {
    super('InstanceNeverOnline', `test instance ${instanceId} not online after ${attempts} checks`);
  }
}

/** The probe suite ran and at least one check failed, or its output was unusable. */
export class ProbeFailed extends FactoryError {
  constructor(message: string) {
    super('ProbeFailed', message);
  }
}

/** The probe suite did not finish within its timeout or the poll bound. */
export class ProbeTimedOut extends FactoryError {
  constructor(message: string) {
    super('ProbeTimedOut', message);
  }
}

/**
 * The command invocation is not (yet) visible. SSM returns `InvocationDoesNotExist` for a short
 * while after `SendCommand`; the ASL retries on this name.
 */
export class InvocationDoesNotExist extends FactoryError {
  constructor(commandId: string, instanceId: string, options?: ErrorOptions) {
    super('InvocationDoesNotExist', `no invocation of command ${commandId} on ${instanceId} yet`, options);
  }
}

/** Slack did not accept the message after the bounded retries. The webhook URL is never part of the message. */
export class SlackDeliveryFailed extends FactoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('SlackDeliveryFailed', message, options);
  }
}

/** A required environment variable or parameter is missing or malformed; the message names it. */
export class MissingConfiguration extends FactoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('MissingConfiguration', message, options);
  }
}

/**
 * A channel pointer write did not take: `PutParameter` with `DataType: aws:ec2:image` answers 200
 * before SSM validates the AMI asynchronously, and a failed validation leaves the parameter
 * unchanged (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html,
 * `DataType`).
 */
export class ChannelPointerNotConfirmed extends FactoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('ChannelPointerNotConfirmed', message, options);
  }
}

/**
 * An event for consumers was not published (EventBridge refused the request, or answered HTTP 200
 * with `FailedEntryCount` > 0 for an entry; the local event log could not be written). The ASL
 * retries PromoteImage and NotifyFailure on this name: the step is idempotent and publishes again.
 */
export class EventPublishFailed extends FactoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('EventPublishFailed', message, options);
  }
}

/** Error names that mean "the candidate was tested and must not ship" (cleanup deregisters it). */
export const PROBE_FAILURE_ERRORS: readonly string[] = ['ProbeFailed', 'ProbeTimedOut'];

/**
 * The pipeline's entry of the `distribution` stage parameter cannot work (PrepareBuild): the
 * message lists every problem (region names, account ids, organization and OU ARNs, KMS keys).
 */
export class InvalidDistribution extends FactoryError {
  constructor(pipeline: string, problems: string) {
    super('InvalidDistribution', `distribution of pipeline ${pipeline}: ${problems}`);
  }
}

/** A region's copy of the candidate failed, or was not available within the wait's bound. */
export class RegionCopyFailed extends FactoryError {
  constructor(region: string, imageId: string, detail: string) {
    super('RegionCopyFailed', `copy ${imageId} in ${region}: ${detail}`);
  }
}

/** Distribution failed in a region and the fail policy promotes no region (CheckDistribution). */
export class DistributionFailed extends FactoryError {
  constructor(message: string) {
    super('DistributionFailed', message);
  }
}

/**
 * The channel's entry of the `rollout` stage parameter cannot work (PrepareBuild): the message
 * lists every problem (healthy percentages, warmup).
 */
export class InvalidRollout extends FactoryError {
  constructor(key: string, problems: string) {
    super('InvalidRollout', `rollout of ${key}: ${problems}`);
  }
}

/** The candidate carries no `factory:sbom` tag: its bake produced no SBOM (InspectCandidate). */
export class CandidateWithoutSbom extends FactoryError {
  constructor(imageId: string, buildId: string) {
    super(
      'CandidateWithoutSbom',
      `candidate ${imageId} of build ${buildId} has no factory:sbom tag: the bake produced no SBOM, so the image cannot be inspected; check the bake's syft step`,
    );
  }
}

/** An SBOM could not be read from its URI (the `factory:sbom` tag's value). */
export class SbomUnreadable extends FactoryError {
  constructor(uri: string, detail: string, options?: ErrorOptions) {
    super('SbomUnreadable', `cannot read the SBOM at ${uri}: ${detail}`, options);
  }
}

/**
 * A finding at or above the stage's `vulnerabilityThreshold`: the build is not promoted. The ASL
 * records it (Pass state `VulnerabilityGateFailed`, cause = the verdict's summary with the blocking
 * findings) from InspectCandidate's result; this class is the name's source for code that raises
 * it outside the state machine.
 */
export class VulnerabilityGateFailed extends FactoryError {
  constructor(summary: string) {
    super('VulnerabilityGateFailed', summary);
  }
}
