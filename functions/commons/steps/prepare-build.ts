import { resolveBaseImageSource } from '../build-source.js';
import {
  type Architecture,
  type ArchitectureSettings,
  architecturesOf,
  DEFAULT_ARCHITECTURE,
  DEFAULT_INSTANCE_TYPES,
  imageArchitecture,
  instanceTypeProblem,
  trackOf,
} from '../core/architectures.js';
import { buildId, executionName, FIRST_ATTEMPT } from '../core/build-key.js';
import { resolveDistribution } from '../core/distribution.js';
import { resolveImageDefinition } from '../core/image-definitions.js';
import { checkParentImage, type ParentImage, type ParentRef } from '../core/layering.js';
import { resolveRollout, rolloutTagValue } from '../core/rollout.js';
import { InvalidDistribution, InvalidInput, InvalidRollout, UnusableParentImage } from '../errors.js';
import type { PrepareBuildInput } from '../handler-inputs.js';
import type {
  ChannelPointer,
  ImageStore,
  PromotionLedger,
  SourceImage,
  SourceImageResolver,
  SourceRevisionResolver,
} from '../ports.js';
import { type Build, FullCommitSha } from '../schemas.js';

/** What PrepareBuild reads to resolve a layered build's parent image. */
export interface ParentPorts {
  /** The parent's channel pointer (SSM parameter `<prefix>/<pipeline>/<channel>` on AWS). */
  pointer: Pick<ChannelPointer, 'current'>;
  /** This account's images only (EC2 `DescribeImages` `Owners=self` on AWS). */
  images: Pick<ImageStore, 'getImage'>;
}

/** Where builds that name no repository take their image definition from (AWS backend). */
export interface DefaultSource {
  /** Repository URL (`SOURCE_REPOSITORY`); undefined when none is configured. */
  repository?: string | undefined;
  /** Branch whose head such builds bake (`SOURCE_BRANCH`). */
  branch: string;
}

export interface PrepareBuildOptions {
  /** Seconds the probe suite may run on the test instance. */
  probeTimeoutSeconds: number;
  /** When set, failures of this build open an incident with this response plan. */
  incidentResponsePlanArn?: string | undefined;
  /** Where `OpenIncident` raises failures (default: `incident-manager` with a response plan, else none). */
  alerting?: Build['alerting'];
  /** With `ports.revisions`: the default repository and branch (AWS backend). */
  defaultSource?: DefaultSource;
  /**
   * The `distribution` stage parameter (keyed by pipeline; `core/distribution.ts`) and the
   * stack's region, where the build bakes (`local` on the local backend). Default: no pipeline
   * distributes beyond the stack's region.
   */
  distribution?: { settings: Readonly<Record<string, unknown>>; homeRegion: string };
  /** The `ARCHITECTURES` setting: what each pipeline may build (default: x86_64 only). */
  architectures?: ArchitectureSettings;
  /** Builder and test instance types per architecture (default `DEFAULT_INSTANCE_TYPES`). */
  instanceTypes?: Readonly<Record<Architecture, { builder: string; test: string }>>;
  /**
   * The `rollout` stage parameter (keyed by `<pipeline>/<channel>`; `core/rollout.ts`). Default:
   * no channel rolls out.
   */
  rollout?: Readonly<Record<string, unknown>>;
  now?: () => Date;
}

/**
 * The build's architecture and instance types: the requested architecture (default x86_64) must
 * be one the pipeline declares, and both instance types must run it (`core/architectures.ts`).
 * @throws InvalidInput naming the architecture and the declared ones, or the mismatching instance
 *   types and the setting to change.
 */
const resolveArchitecture = (
  pipeline: string,
  requested: Architecture | undefined,
  options: PrepareBuildOptions,
): { architecture: Architecture; instanceTypes: { builder: string; test: string } } => {
  const architecture = requested ?? DEFAULT_ARCHITECTURE;
  const declared = architecturesOf(options.architectures ?? {}, pipeline);
  if (!declared.includes(architecture))
    throw new InvalidInput(
      `pipeline ${pipeline} does not build ${architecture} (it builds ${declared.join(', ')}; declare it in the architectures stage parameter, environment ARCHITECTURES)`,
    );
  const instanceTypes = (options.instanceTypes ?? DEFAULT_INSTANCE_TYPES)[architecture];
  const problems = [
    instanceTypeProblem(instanceTypes.builder, architecture, 'builder'),
    instanceTypeProblem(instanceTypes.test, architecture, 'test'),
  ].filter((problem) => problem !== undefined);
  if (problems.length > 0)
    throw new InvalidInput(
      `${problems.join('; ')} (stage parameters builderInstanceType*/testInstanceType*, environment BUILDER_INSTANCE_TYPE*/TEST_INSTANCE_TYPE*)`,
    );
  return { architecture, instanceTypes };
};

/**
 * The source a build bakes its image definition from, when the backend fetches it
 * (`ports.revisions` given): the requested repository (else the default one) at the requested
 * commit (else the head of the default branch, resolved now so the build records exactly what it
 * bakes).
 * @throws InvalidInput when there is no repository, or the commit is not a full 40-hex id.
 */
const resolveSource = async (
  input: PrepareBuildInput['input'],
  revisions: SourceRevisionResolver,
  defaults: DefaultSource | undefined,
): Promise<{ repository: string; commit: string }> => {
  const repository = input.repository ?? defaults?.repository;
  if (!repository) {
    throw new InvalidInput(
      'no source repository: the input names no repository and no default repository is configured ' +
        '(stage parameter sourceRepository, environment SOURCE_REPOSITORY)',
    );
  }
  if (input.commit !== undefined) {
    if (!FullCommitSha.safeParse(input.commit).success) {
      throw new InvalidInput(`commit ${input.commit} must be the full 40-character id the runner checks out`);
    }
    return { repository, commit: input.commit };
  }
  const branch = defaults?.branch ?? 'main';
  return { repository, commit: await revisions.headOf(repository, branch) };
};

/**
 * The image a layered build bakes from: the one `parent`'s channel names, checked by
 * `checkParentImage` (this account's image, of that pipeline, promoted to that channel, with a
 * catalog base image).
 * @throws UnusableParentImage when the channel names no image (unknown pipeline or channel, never
 *   promoted) or the image fails the check.
 */
const resolveParent = async (
  parent: ParentRef,
  architecture: Architecture,
  ports: ParentPorts,
): Promise<ParentImage> => {
  const position = await ports.pointer.current(trackOf(parent.pipeline, architecture), parent.channel);
  if (!position)
    throw new UnusableParentImage(
      parent,
      `the channel names no image (no such pipeline or channel, or nothing promoted to it yet): promote a build of ${parent.pipeline} first`,
    );
  const image = await ports.images.getImage(position.imageId);
  const checked = checkParentImage(parent, position.imageId, image);
  if ('problem' in checked) throw new UnusableParentImage(parent, checked.problem);
  if (image && imageArchitecture(image) !== architecture)
    throw new UnusableParentImage(
      parent,
      `image ${position.imageId} is ${imageArchitecture(image)}, but the build is ${architecture}`,
    );
  return checked.parent;
};

/**
 * The build's source image and base image: the parent image (layered build, its base image
 * inherited) or the base image's source AMI (the given one, or the current public one), whose
 * publisher is checked.
 */
const resolveBuildSource = async (
  input: PrepareBuildInput['input'],
  architecture: Architecture,
  ports: { sources: SourceImageResolver; parents?: ParentPorts | undefined },
): Promise<{ source: SourceImage; baseImage: string; parent?: ParentImage }> => {
  if (input.parent) {
    if (!ports.parents)
      throw new InvalidInput(
        'this backend cannot resolve parent pipelines (no channel pointer or image store)',
      );
    const parent = await resolveParent(input.parent, architecture, ports.parents);
    if (input.baseImage !== undefined && input.baseImage !== parent.baseImage)
      throw new InvalidInput(
        `baseImage ${input.baseImage} differs from ${parent.baseImage}, the base image of parent ${input.parent.pipeline}/${input.parent.channel} (${parent.imageId}); omit baseImage`,
      );
    const source = {
      imageId: parent.imageId,
      name: parent.name,
      ownerId: undefined,
      createdAt: parent.createdAt,
    };
    return { source, baseImage: parent.baseImage, parent };
  }
  if (input.baseImage === undefined) throw new InvalidInput('baseImage is required unless parent is given');
  const source = await resolveBaseImageSource(
    ports.sources,
    input.baseImage,
    input.sourceImageId,
    architecture,
  );
  return { source, baseImage: input.baseImage };
};

/** `{ alerting }` for the build document, or nothing when failures are raised only in Slack. */
const alertingOf = (options: PrepareBuildOptions): Pick<Build, 'alerting'> => {
  const alerting = options.alerting ?? (options.incidentResponsePlanArn ? 'incident-manager' : undefined);
  return alerting ? { alerting } : {};
};

/**
 * State `PrepareBuild`: validate the request, fix the image definition (the one named, else the
 * pipeline's namesake), resolve the source AMI of the base image (or verify the given one), check
 * its publisher, and fix the build id and execution name. With `ports.revisions` (AWS: the runner
 * fetches the source) every build also gets a fetchable `repository` and the full `commit` it
 * bakes (see {@link resolveSource}); without it (local backend: the working tree is baked) both
 * stay as requested.
 * A layered build (`input.parent`) bakes from the image the parent pipeline's channel names
 * (`ports.parents`), inherits its base image and records the parent in `build.parent`; the
 * publisher check does not apply (the parent is this account's own image, checked instead by
 * `core/layering.ts`).
 * The build's `order` (monotonic promotion) is its source image's creation time and the next
 * number of the track's build sequence from `ports.ledger` (track: pipeline and architecture,
 * `core/architectures.ts`).
 * The build's `architecture` (default x86_64) must be declared for the pipeline
 * (`options.architectures`); its source AMI is the base image's of that architecture (a given or
 * parent image must be of it too), and `instanceTypes` (builder, test) are
 * `options.instanceTypes[architecture]`, which must run it.
 * @returns the `build` document (`$.build`).
 * The build's `distribution` is the pipeline's entry of `options.distribution` resolved for the
 * stack's region (`core/distribution.ts`): every region, the share targets, the fail policy.
 * The build's `rollout` is the channel's entry of `options.rollout` (`core/rollout.ts`), absent
 * when the channel does not roll out.
 * @throws InvalidDistribution (the pipeline's distribution entry cannot work: region names, account
 *   ids, organization and OU ARNs, KMS keys; checked first), InvalidRollout (the channel's rollout
 *   entry: healthy percentages, warmup; checked next), UnknownImageDefinition, UnknownBaseImage, ForeignBaseImage (untrusted owner),
 *   UnusableParentImage (empty parent channel, image not the parent's), InvalidInput (given source
 *   image not found, no repository, short commit, source image without a creation time, baseImage
 *   other than the parent's, no `ports.parents` for a layered build, an undeclared architecture, an
 *   instance type of another architecture, a source image of another architecture).
 */
export async function prepareBuild(
  request: PrepareBuildInput,
  ports: {
    sources: SourceImageResolver;
    revisions?: SourceRevisionResolver;
    ledger: Pick<PromotionLedger, 'nextSequence'>;
    /** Layered builds only (`input.parent`). */
    parents?: ParentPorts;
  },
  options: PrepareBuildOptions,
): Promise<Build> {
  const { execution } = request;
  const imageDefinition = resolveImageDefinition(request.input.pipeline, request.input.imageDefinition);
  // Checked before anything is resolved or handed out: a distribution that cannot work stops here.
  const distribution = resolveDistribution(
    options.distribution?.settings[request.input.pipeline],
    options.distribution?.homeRegion ?? 'local',
    (problems) => new InvalidDistribution(request.input.pipeline, problems),
  );
  const { architecture, instanceTypes } = resolveArchitecture(
    request.input.pipeline,
    request.input.architecture,
    options,
  );
  const rollout = resolveRollout(
    options.rollout ?? {},
    request.input.pipeline,
    request.input.channel,
    (problems) =>
      new InvalidRollout(rolloutTagValue(request.input.pipeline, request.input.channel), problems),
    architecture,
  );
  const input = ports.revisions
    ? { ...request.input, ...(await resolveSource(request.input, ports.revisions, options.defaultSource)) }
    : request.input;
  const { source, baseImage, parent } = await resolveBuildSource(input, architecture, ports);
  if (!source.createdAt || Number.isNaN(Date.parse(source.createdAt)))
    throw new InvalidInput(`source image ${source.imageId} has no creation time to order the build by`);
  const attempt = input.attempt ?? FIRST_ATTEMPT;
  const key = {
    pipeline: input.pipeline,
    architecture,
    channel: input.channel,
    sourceImageId: source.imageId,
    commit: input.commit,
    attempt,
  };
  const name = execution?.Name ?? executionName(key);
  return {
    // One build id per execution (core/build-key.ts); without $$.Execution, per execution name.
    buildId: buildId({ pipeline: input.pipeline, executionArn: execution?.Id ?? name }),
    pipeline: input.pipeline,
    channel: input.channel,
    trigger: input.trigger,
    baseImage,
    architecture,
    instanceTypes,
    imageDefinition,
    sourceImageId: source.imageId,
    sourceImageName: source.name,
    ...(parent && input.parent
      ? {
          parent: { pipeline: input.parent.pipeline, channel: input.parent.channel, imageId: parent.imageId },
        }
      : {}),
    ...(input.commit ? { commit: input.commit } : {}),
    ...(input.repository ? { repository: input.repository } : {}),
    executionName: name,
    attempt,
    ...(execution?.Id ? { executionArn: execution.Id } : {}),
    startedAt: execution?.StartTime ?? (options.now ?? (() => new Date()))().toISOString(),
    probeTimeoutSeconds: options.probeTimeoutSeconds,
    ...(options.incidentResponsePlanArn ? { incidentResponsePlanArn: options.incidentResponsePlanArn } : {}),
    ...alertingOf(options),
    order: {
      sourceCreatedAt: new Date(source.createdAt).toISOString(),
      sequence: await ports.ledger.nextSequence(trackOf(input.pipeline, architecture)),
    },
    distribution,
    ...(rollout ? { rollout } : {}),
  };
}
