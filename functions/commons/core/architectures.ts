/**
 * CPU architectures of the images a pipeline bakes. Pure: no AWS or filesystem imports.
 *
 * A pipeline declares `x86_64`, `arm64` or both (stage parameter `architectures`, environment
 * `ARCHITECTURES`, {@link parseArchitectures}); undeclared pipelines build `x86_64` only. One
 * execution builds one architecture: a trigger starts one execution per declared architecture.
 * Everything a build is ordered, leased and promoted by is kept per *track* (pipeline,
 * architecture), {@link trackOf}: the `x86_64` track is named like the pipeline, so that
 * deployments from before architectures existed keep their pointers, leases, build sequence and
 * last-seen source AMIs unchanged; the `arm64` track is `<pipeline>/arm64` (pipeline names cannot
 * contain `/`, so no pipeline's track is another's). The SSM channel pointer of an `arm64` track is
 * `<prefix>/<pipeline>/arm64/<channel>`, which is why a channel may not be named `arm64`.
 *
 * EC2 names architectures `x86_64` and `arm64` (`ArchitectureValues`,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html); Canonical and Debian
 * name them `amd64` and `arm64` in their parameter paths ({@link VENDOR_ARCHITECTURE}).
 */

/** The architectures a pipeline can build, EC2's names, the default first. */
export const ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** The architecture of a pipeline that declares none, and of images without any record of one. */
export const DEFAULT_ARCHITECTURE: Architecture = 'x86_64';

/** True when `value` is one of {@link ARCHITECTURES}. */
export const isArchitecture = (value: unknown): value is Architecture =>
  typeof value === 'string' && (ARCHITECTURES as readonly string[]).includes(value);

/** The Debian/Ubuntu name of an architecture (`dpkg --print-architecture`). */
export const VENDOR_ARCHITECTURE: Readonly<Record<Architecture, string>> = {
  x86_64: 'amd64',
  arm64: 'arm64',
};

/**
 * The track of (pipeline, architecture): what pointers, leases, the build sequence and the
 * last-seen source AMI are keyed by. `web` for x86_64 (as before architectures), `web/arm64` for arm64.
 */
export const trackOf = (pipeline: string, architecture: Architecture = DEFAULT_ARCHITECTURE): string =>
  architecture === DEFAULT_ARCHITECTURE ? pipeline : `${pipeline}/${architecture}`;

/**
 * The architecture of an image: EC2's `Architecture` when the backend reports one, else its
 * `factory:architecture` tag, else {@link DEFAULT_ARCHITECTURE} (images baked before architectures
 * existed are x86_64). An unknown value is returned as is, so it matches no track.
 */
export const imageArchitecture = (image: {
  architecture?: string | undefined;
  tags: Readonly<Record<string, string>>;
}): string => image.architecture ?? image.tags[ARCHITECTURE_TAG] ?? DEFAULT_ARCHITECTURE;

/** Tag key recording the architecture (also `TAG.architecture` in `core/tags.ts`, which imports it). */
export const ARCHITECTURE_TAG = 'factory:architecture';

/**
 * Instance types a build uses when the stage names none: the builder (Packer's temporary
 * instance) and the test instance. The x86_64 ones are those of deployments before architectures
 * (`t3.small` both); the arm64 ones are their Graviton counterparts of the same size.
 */
export const DEFAULT_INSTANCE_TYPES: Readonly<Record<Architecture, { builder: string; test: string }>> = {
  x86_64: { builder: 't3.small', test: 't3.small' },
  arm64: { builder: 't4g.small', test: 't4g.small' },
};

/** An EC2 instance type: `<family>.<size>`, e.g. `c7g.large`, `u-6tb1.metal`. */
const INSTANCE_TYPE = /^(?<family>[a-z][a-z0-9-]*)\.[a-z0-9]+$/;
/**
 * Graviton families: the processor letter `g` right after the generation digit (`t4g`, `c7gn`,
 * `m6gd`, `x2gd`, `im4gn`, `is4gen`, `g5g`), and `a1` (first-generation Arm). AWS names the
 * processor in the family's attribute letters, "g – AWS Graviton processors"
 * (https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html).
 */
const GRAVITON_FAMILY = /^(a1|[a-z]+\d+g[a-z]*)$/;

/**
 * The architecture an instance type runs, by AWS's naming convention (not by asking EC2): arm64
 * for Graviton families, x86_64 for the others.
 * @returns undefined when `instanceType` is not `<family>.<size>` or is a Mac type (`mac…`),
 *   which the factory does not build on.
 */
export const instanceTypeArchitecture = (instanceType: string): Architecture | undefined => {
  const family = INSTANCE_TYPE.exec(instanceType)?.groups?.family;
  // Mac families (`mac2`, `mac2-m2`): EC2 reports `x86_64_mac` / `arm64_mac`, not built on here.
  if (family === undefined || family.startsWith('mac')) return undefined;
  return GRAVITON_FAMILY.test(family) ? 'arm64' : 'x86_64';
};

/**
 * Why `instanceType` cannot serve as the `role` instance of an `architecture` build, or undefined
 * when it can.
 */
export const instanceTypeProblem = (
  instanceType: string,
  architecture: Architecture,
  role: 'builder' | 'test',
): string | undefined => {
  const runs = instanceTypeArchitecture(instanceType);
  if (runs === undefined)
    return `${role} instance type "${instanceType}" is not an EC2 instance type the factory builds on (<family>.<size>, no mac)`;
  if (runs !== architecture)
    return `${role} instance type ${instanceType} runs ${runs}, but the build is ${architecture} (Graviton families such as t4g, c7g run arm64; the others x86_64)`;
  return undefined;
};

/** The `ARCHITECTURES` entry syntax, as error messages state it. */
export const ARCHITECTURES_SYNTAX = `pipeline=<architecture>[+<architecture>] (architectures: ${ARCHITECTURES.join(', ')})`;

/** Declared architectures per pipeline. A pipeline without an entry builds {@link DEFAULT_ARCHITECTURE}. */
export type ArchitectureSettings = Readonly<Record<string, readonly Architecture[]>>;

/**
 * Parse `ARCHITECTURES`: comma-separated `pipeline=<architecture>[+<architecture>]`, e.g.
 * `web=x86_64+arm64,edge=arm64`. Each pipeline's list keeps {@link ARCHITECTURES} order, so the
 * executions a trigger starts are in a stable order. Empty: every pipeline builds x86_64.
 * @throws Error naming the bad entry (no `=`, an unknown architecture, a repeated architecture or
 *   pipeline, an empty list); the caller adds the variable's name.
 */
export const parseArchitectures = (value: string): ArchitectureSettings => {
  const settings: Record<string, Architecture[]> = {};
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    const match = /^(?<pipeline>[a-z][a-z0-9-]{0,31})=(?<list>[^=]*)$/.exec(entry);
    if (!match?.groups) throw new Error(`has an invalid entry "${entry}": expected ${ARCHITECTURES_SYNTAX}`);
    const { pipeline, list } = match.groups as { pipeline: string; list: string };
    if (Object.hasOwn(settings, pipeline)) throw new Error(`names pipeline ${pipeline} twice`);
    const named = list.split('+').map((part) => part.trim());
    for (const name of named) {
      if (!isArchitecture(name))
        throw new Error(
          `has an invalid entry "${entry}": "${name}" is not an architecture (${ARCHITECTURES.join(', ')})`,
        );
    }
    if (new Set(named).size !== named.length)
      throw new Error(`has an invalid entry "${entry}": an architecture is named twice`);
    settings[pipeline] = ARCHITECTURES.filter((architecture) => named.includes(architecture));
  }
  return settings;
};

/** The architectures `pipeline` declares in `settings` ({@link DEFAULT_ARCHITECTURE} alone when none). */
export const architecturesOf = (settings: ArchitectureSettings, pipeline: string): readonly Architecture[] =>
  settings[pipeline] ?? [DEFAULT_ARCHITECTURE];

/** A pipeline's builds of one architecture (absent: x86_64): what a track holds. */
export interface Lane {
  pipeline: string;
  architecture?: Architecture | undefined;
}

/** The track name of `lane` ({@link trackOf}). */
export const laneTrack = (lane: Lane): string => trackOf(lane.pipeline, lane.architecture);

/**
 * True when `image` is of `architecture` (absent: x86_64) by {@link imageArchitecture}: an arm64
 * build's promotion, rollback and retention never see x86_64 images, and the other way round.
 */
export const isOfArchitecture = (
  image: { architecture?: string | undefined; tags: Readonly<Record<string, string>> },
  architecture: Architecture | undefined,
): boolean => imageArchitecture(image) === (architecture ?? DEFAULT_ARCHITECTURE);
