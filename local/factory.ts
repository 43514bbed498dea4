import '#local/compat.js';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type Architecture,
  type ArchitectureSettings,
  DEFAULT_ARCHITECTURE,
  trackOf,
} from '#commons/core/architectures.js';
import { executionName as deterministicExecutionName } from '#commons/core/build-key.js';
import { UnusableParentImage } from '#commons/errors.js';
import { ExecutionInput } from '#commons/execution-input.js';
import type { Notifier, SourceImage } from '#commons/ports.js';
import { parseOrThrow } from '#commons/validation.js';
import { LOCAL_WAITS } from '#local/architectures.js';
import { bakeLocally, importLocally, type RunTaskRequest } from '#local/bake.js';
import { isCatalogImageId } from '#local/catalog.js';
import { bootAndReadIdentity, type Identity, readIdentity, sameIdentity } from '#local/clone-check.js';
import { runExecution } from '#local/execution.js';
import type { StateTiming } from '#local/observe.js';
import { localPollBounds } from '#local/poll-bounds.js';
import { PROJECT_ROOT } from '#local/process.js';
import { LocalBaseImageResolver } from '#local/sources.js';
import { assertLocalTasks, type LocalTaskContext } from '#local/tasks.js';
import { type LocalWiring, wireLocalPorts } from '#local/wiring.js';
import { loadDefinition } from '#statemachines/definition.js';

// The probe path and the summary's types stay importable from the runner's entry module.
export { PROBE_PATH } from '#local/wiring.js';
export type { Identity, StateTiming };

export interface LocalFactoryOptions {
  pipeline: string;
  channel: string;
  /** What to bake (`core/image-definitions.ts`); default: the definition named like the pipeline. */
  imageDefinition?: string;
  /** Only `debian-12` runs locally. Ignored with `parent` (the parent image's base image is used). */
  baseImage: string;
  /**
   * What this execution builds (default x86_64). arm64 needs `enabledArchitectures` to include it
   * (the local arm64 option, `local/architectures.ts`) and the pipeline to declare it.
   */
  architecture?: Architecture;
  /** What the pipelines declare, for PrepareBuild (the `ARCHITECTURES` setting; default x86_64 only). */
  declaredArchitectures?: ArchitectureSettings;
  /** What the local backend may build (`localArchitectures(process.env)`; default x86_64 only). */
  enabledArchitectures?: readonly Architecture[];
  /**
   * Layered build: bake from the image this pipeline's channel names in the same state directory
   * (`--parent <pipeline>[/<channel>]`); only the image definition's own roles run.
   */
  parent?: { pipeline: string; channel: string };
  /** State directory: catalog, VMs, build work dirs (default `.factory`). */
  stateDir: string;
  retention: { maxAgeDays: number; keepLatest: number; dryRun: boolean };
  /** Seconds the probe suite may run on the test machine (default: the architecture's `LOCAL_WAITS`). */
  probeTimeoutSeconds: number;
  /** Seconds between polls of the probe's Wait state (the ASL's 15 s are meant for AWS). */
  pollSeconds: number;
  /**
   * Seconds between online checks (WaitForInstanceOnline). A TCG boot takes 30–60 s on an idle
   * 2-core machine and several minutes on a busy or slower one; the ASL's attempt bound times this
   * interval is how long a boot may take, so it is longer than the probe's. The attempt bounds
   * themselves come from the ASL (`localPollBounds`).
   */
  onlinePollSeconds: number;
  /** Boot a second machine from the promoted image and compare identities. */
  cloneCheck: boolean;
  /** Extra Packer `-var`s for this bake (e.g. to bake a deliberately broken image in tests). */
  bakeVars?: Record<string, string>;
  /** Skip the bake: BakeImage registers this qcow2 as the build's image (see `importLocally`). */
  imageFile?: string;
  /** Forwarded after the terminal (e.g. Slack when configured). */
  notifier?: Notifier;
  /** Progress output (default: stdout). */
  write?: (text: string) => void;
  signal?: AbortSignal;
}

export interface LocalRunSummary {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  executionName: string;
  /** The execution's final document (JSONPath state) or, when it failed, the failure. */
  output?: Record<string, unknown>;
  error?: { Error: string; Cause: string };
  statesVisited: string[];
  timings: StateTiming[];
  /** Seconds from the start (base image included) to the end of the execution, clone check excluded. */
  executionSeconds: number;
  /** Seconds of the whole run, clone check included. */
  totalSeconds: number;
  clone?: { identical: string[]; first: Identity; second: Identity };
  /**
   * Why the clone check that was asked for (no `--no-clone-check`) did not run on a promoted image:
   * the test instance's identity could not be read. The run then counts as failed (`exitStatus`).
   */
  cloneCheckNotRun?: string;
  /**
   * The test instance's machine-id and host keys, read after its probe passed (before it was
   * terminated): the first machine of the clone check, and what a caller compares its own
   * machines of the image with (`sameIdentity`).
   */
  testInstanceIdentity?: Identity;
  sourceImage?: SourceImage;
  imagePath?: string;
  /** The bake's work directory: packer.log, ansible-junit/ (read by bench/bake-profile.ts). */
  bakeDir?: string;
}

const defaults = (
  stateDir: string,
  architecture: Architecture,
): Omit<LocalFactoryOptions, 'pipeline' | 'channel' | 'baseImage'> => ({
  stateDir,
  retention: { maxAgeDays: 30, keepLatest: 3, dryRun: false },
  probeTimeoutSeconds: LOCAL_WAITS[architecture].probeTimeoutSeconds,
  pollSeconds: LOCAL_WAITS[architecture].pollSeconds,
  onlinePollSeconds: LOCAL_WAITS[architecture].onlinePollSeconds,
  cloneCheck: true,
});

/**
 * Runs the pipeline locally: `statemachines/image-factory.asl.yaml` executed by
 * aws-local-stepfunctions, each Task state served by the same step function the Lambda calls
 * (functions/commons/steps) through the local task table (`local/tasks.ts`), with local ports
 * (`local/wiring.ts`): Packer's qemu source for the bake, qemu VMs for test machines, the guest
 * agent for the probe, the file catalog for images and channels, the terminal (and Slack when
 * configured) for notifications.
 *
 * Never leaves a VM running: every VM of the state directory is reaped on the way out, whatever
 * the outcome (also on abort).
 * @returns the run summary; it does not throw for a failed execution (status FAILED).
 * @throws LocalTaskTableMismatch before anything runs when the ASL has a Task state the local
 *   task table lacks (or the other way round).
 */
export async function runLocalFactory(
  input: Pick<LocalFactoryOptions, 'pipeline' | 'channel' | 'baseImage'> & Partial<LocalFactoryOptions>,
): Promise<LocalRunSummary> {
  const architecture = input.architecture ?? DEFAULT_ARCHITECTURE;
  const options: LocalFactoryOptions = { ...defaults(input.stateDir ?? '.factory', architecture), ...input };
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const definition = loadDefinition({ stage: 'local' });
  assertLocalTasks(definition);
  const wiring = await wireLocalPorts({ ...options, write });

  const started = Date.now();
  // The runner plays the trigger: resolve the source (the base image, or the parent channel's
  // image), then name the execution the way the AWS triggers do (pipeline, source image, commit),
  // so reruns of one input share a build id.
  const request = parseOrThrow(ExecutionInput, {
    pipeline: options.pipeline,
    channel: options.channel,
    trigger: 'manual',
    ...(options.parent ? { parent: options.parent } : { baseImage: options.baseImage }),
    ...(options.imageDefinition ? { imageDefinition: options.imageDefinition } : {}),
    // As the triggers do: an x86_64 input has no architecture key.
    ...(architecture === DEFAULT_ARCHITECTURE ? {} : { architecture }),
    ...commitOf(),
  });
  const source = await resolveSource(request, wiring, write);
  const name = deterministicExecutionName({
    pipeline: request.pipeline,
    architecture,
    channel: request.channel,
    sourceImageId: source.imageId,
    commit: request.commit,
  });
  let identity: Identity | undefined;
  const context: LocalTaskContext = {
    ports: wiring.ports,
    probeTimeoutSeconds: options.probeTimeoutSeconds,
    retention: options.retention,
    architectures: options.declaredArchitectures ?? {},
    bounds: localPollBounds(),
    bake: (runTask) => bake(runTask, wiring, options, name),
    // Local instrumentation, not part of the verdict: the test instance's identity for the clone
    // check (here or the caller's own). A failed read is reported and leaves the identity unknown.
    beforeTerminate: async (id: string) => {
      try {
        identity = await readIdentity(wiring.ports.launcher, id);
      } catch (error) {
        write(`▶ could not read the test instance's identity: ${(error as Error).message}\n`);
      }
    },
  };
  const run = await runExecution(
    new StateMachine(definition),
    request.parent ? request : { ...request, sourceImageId: source.imageId },
    {
      name,
      started,
      context,
      vmDir: wiring.vmDir,
      // The checks wait up to these intervals themselves (wireLocalPorts): no Wait between them.
      waitMs: { online: 0, probe: 0 },
      signal: options.signal,
      write,
    },
  );

  const summary: LocalRunSummary = {
    status: run.status,
    executionName: name,
    statesVisited: run.visited,
    timings: run.timings,
    executionSeconds: (Date.now() - started) / 1000,
    totalSeconds: 0,
    sourceImage: source,
    bakeDir: path.join(wiring.stateDir, 'builds', name),
    ...(run.output ? { output: run.output } : {}),
    ...(run.failure ? { error: run.failure } : {}),
    ...(identity ? { testInstanceIdentity: identity } : {}),
  };
  // A superseded build promoted nothing: its candidate was retired, so there is no image to show.
  const promotion = run.output?.promotion as { imageId?: string; outcome?: string } | undefined;
  const promoted = promotion?.outcome === 'superseded' ? undefined : promotion?.imageId;
  if (promoted) summary.imagePath = wiring.catalog.diskPath(promoted);
  if (run.status === 'SUCCEEDED' && options.cloneCheck && promoted && !identity) {
    summary.cloneCheckNotRun =
      "the test instance's identity could not be read before it was terminated (see the message above); rerun, or pass --no-clone-check to skip the check";
    write(`▶ clone check not run: ${summary.cloneCheckNotRun}\n`);
  } else if (run.status === 'SUCCEEDED' && options.cloneCheck && promoted && identity) {
    write('▶ clone check: booting a second machine from the promoted image\n');
    const second = await bootAndReadIdentity(
      wiring.ports.launcher,
      promoted,
      name,
      LOCAL_WAITS[architecture].cloneBootSeconds,
    );
    summary.clone = { first: identity, second, identical: sameIdentity(identity, second) };
  }
  summary.totalSeconds = (Date.now() - started) / 1000;
  return summary;
}

/**
 * The image the build bakes from, as the trigger sees it: the local base image (built or reused),
 * or for a layered build the image the parent channel names (PrepareBuild checks it again).
 * @throws UnusableParentImage when the parent channel names no image.
 */
async function resolveSource(
  request: ExecutionInput,
  wiring: LocalWiring,
  write: (text: string) => void,
): Promise<SourceImage> {
  const architecture = request.architecture ?? DEFAULT_ARCHITECTURE;
  if (request.parent) {
    const { pipeline, channel } = request.parent;
    // The parent's track of this architecture (an arm64 child builds on the parent's arm64 channel).
    const position = await wiring.ports.pointer.current(trackOf(pipeline, architecture), channel);
    if (!position)
      throw new UnusableParentImage(
        request.parent,
        `the channel names no image in ${wiring.catalog.root}: run the factory for pipeline ${pipeline} first`,
      );
    write(`▶ parent ${pipeline}/${channel}: ${position.imageId}\n`);
    const image = await wiring.ports.images.getImage(position.imageId);
    return {
      imageId: position.imageId,
      name: image?.name ?? '',
      ownerId: undefined,
      createdAt: image?.createdAt,
    };
  }
  const baseImage = request.baseImage ?? '';
  write(`▶ base image ${baseImage} (${architecture}): building or reusing the local base image\n`);
  return wiring.ports.sources.resolve(baseImage, architecture);
}

/** BakeImage: bake the image (or import `--image-file`) into the catalog; the stopped-task shape. */
async function bake(
  request: RunTaskRequest,
  wiring: LocalWiring,
  options: LocalFactoryOptions,
  executionName: string,
): Promise<{ TaskArn: string; LastStatus: string }> {
  const common = {
    catalog: wiring.catalog,
    workDir: path.join(wiring.stateDir, 'builds', executionName),
    onLine: wiring.progress,
    ...signalOf(options),
  };
  const result = options.imageFile
    ? await importLocally(request, { ...common, file: options.imageFile })
    : await bakeLocally(request, {
        ...common,
        // A layered build's source is a catalog image (its parent), else the local base image.
        baseImagePath: (imageId) =>
          isCatalogImageId(imageId)
            ? wiring.catalog.diskPath(imageId)
            : LocalBaseImageResolver.pathOf(imageId),
        ...(options.bakeVars ? { extraVars: options.bakeVars } : {}),
      });
  return { TaskArn: result.TaskArn, LastStatus: result.LastStatus };
}

/** The image definition's commit (git HEAD), when the project is a git checkout with commits. */
function commitOf(): { commit?: string } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    return /^[0-9a-f]{40}$/.test(commit) ? { commit } : {};
  } catch {
    return {};
  }
}

function signalOf(options: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}
