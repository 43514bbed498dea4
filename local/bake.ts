import { access, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Architecture, DEFAULT_ARCHITECTURE, isArchitecture } from '#commons/core/architectures.js';
import { CANDIDATE_CHANNEL, TAG } from '#commons/core/tags.js';
import { FactoryError } from '#commons/errors.js';
import type { ImageRecord } from '#commons/ports.js';
import type { LocalCatalog } from '#local/catalog.js';
import { PROJECT_ROOT, runTool } from '#local/process.js';
import { ensureSshKeyPair } from '#local/qemu/ssh.js';

/**
 * The bake request as the `BakeImage` state sends it to `ecs:runTask.sync` — the same document
 * locally: the container's environment overrides carry the build (see statemachines/).
 * Source: ECS RunTask API reference, `overrides.containerOverrides[].environment`.
 */
export interface RunTaskRequest {
  Overrides?: {
    ContainerOverrides?: Array<{ Name?: string; Environment?: Array<{ Name: string; Value?: string }> }>;
  };
}

/**
 * The build variables the Fargate Packer runner reads from its environment. `COMMIT`,
 * `IMAGE_DEFINITION`, `PARENT_IMAGE` and `ARCHITECTURE` come out of `BUILD_JSON` (the whole
 * `$.build`), since a build without a commit (or a parent) has no `$.build.commit`
 * (`$.build.parent`) path; the runner reads `architecture` there too (packer/runner/entrypoint.sh).
 */
export interface BakeEnvironment {
  BASE_IMAGE: string;
  SOURCE_AMI_ID: string;
  BUILD_ID: string;
  PIPELINE: string;
  CHANNEL: string;
  EXECUTION_NAME: string;
  COMMIT: string;
  IMAGE_DEFINITION: string;
  /** `BUILD_JSON.parent.imageId`: the parent image of a layered build (= `SOURCE_AMI_ID`), else ''. */
  PARENT_IMAGE: string;
  /** `BUILD_JSON.architecture` (default x86_64): Packer's `architecture`, tagged `factory:architecture`. */
  ARCHITECTURE: Architecture;
}

/** Bake failed: Packer exited non-zero or produced no image. Caught by the ASL as any task error. */
export class BakeFailed extends FactoryError {
  constructor(message: string) {
    super('BakeFailed', message);
  }
}

/**
 * Reads the container environment out of a RunTask request.
 * @throws BakeFailed when a required variable is missing.
 */
export function bakeEnvironment(request: RunTaskRequest): BakeEnvironment {
  const environment = request.Overrides?.ContainerOverrides?.[0]?.Environment ?? [];
  const value = (name: string): string => {
    const found = environment.find((entry) => entry.Name === name)?.Value ?? '';
    if (!found) throw new BakeFailed(`bake request has no ${name} in its container environment`);
    return found;
  };
  let build: {
    commit?: unknown;
    imageDefinition?: unknown;
    parent?: { imageId?: unknown };
    architecture?: unknown;
  };
  try {
    build = JSON.parse(value('BUILD_JSON')) as typeof build;
  } catch (error) {
    throw new BakeFailed(`BUILD_JSON is not JSON: ${(error as Error).message}`);
  }
  if (typeof build.imageDefinition !== 'string' || build.imageDefinition === '')
    throw new BakeFailed('bake request has no imageDefinition in its BUILD_JSON');
  const architecture = build.architecture ?? DEFAULT_ARCHITECTURE;
  if (!isArchitecture(architecture))
    throw new BakeFailed(`BUILD_JSON names an unknown architecture ${JSON.stringify(architecture)}`);
  const parentImage = typeof build.parent?.imageId === 'string' ? build.parent.imageId : '';
  if (parentImage !== '' && parentImage !== value('SOURCE_AMI_ID'))
    throw new BakeFailed(
      `BUILD_JSON names parent image ${parentImage} but SOURCE_AMI_ID is ${value('SOURCE_AMI_ID')}: a layered build bakes from its parent`,
    );
  return {
    BASE_IMAGE: value('BASE_IMAGE'),
    SOURCE_AMI_ID: value('SOURCE_AMI_ID'),
    BUILD_ID: value('BUILD_ID'),
    PIPELINE: value('PIPELINE'),
    CHANNEL: value('CHANNEL'),
    EXECUTION_NAME: value('EXECUTION_NAME'),
    COMMIT: typeof build.commit === 'string' ? build.commit : '',
    IMAGE_DEFINITION: build.imageDefinition,
    PARENT_IMAGE: parentImage,
    ARCHITECTURE: architecture,
  };
}

interface PackerManifest {
  builds: Array<{
    name: string;
    builder_type: string;
    build_time: number;
    files?: Array<{ name: string; size: number }> | null;
    artifact_id: string;
    packer_run_uuid: string;
    custom_data?: Record<string, string>;
  }>;
  last_run_uuid: string;
}

export interface LocalBakeOptions {
  catalog: LocalCatalog;
  /** Work directory of this build (keys, output, manifest, log). */
  workDir: string;
  /** Path of the base image's qcow2 for a source image id. */
  baseImagePath: (sourceImageId: string) => string;
  /** Progress lines of Packer (already prefixed by Packer with the source name). */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  /** Extra `-var` values (e.g. `ansible_extra_arguments` for a test build). */
  extraVars?: Record<string, string>;
}

/**
 * Local counterpart of the Fargate Packer runner: `packer init` + `packer build -only=qemu.golden`
 * of the project's own template (packer/), then registers the qcow2 in the catalog with the tags
 * the template's manifest `custom_data` carries — the way the amazon-ebs builder registers and tags
 * the AMI on AWS. Returns a RunTask-shaped result (`TaskArn`, `LastStatus`) like the `.sync` integration.
 * @throws BakeFailed on a failed build or a manifest without an image.
 */
export async function bakeLocally(
  request: RunTaskRequest,
  options: LocalBakeOptions,
): Promise<{ TaskArn: string; LastStatus: string; image: ImageRecord }> {
  const environment = bakeEnvironment(request);
  const workDir = path.resolve(options.workDir);
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const keys = await ensureSshKeyPair(workDir, 'build-key');
  const outputDir = path.join(workDir, 'output');
  const manifestPath = path.join(workDir, 'manifest.json');
  const sbomPath = path.join(workDir, 'sbom.cdx.json');
  const logFile = path.join(workDir, 'packer.log');
  const vars: Record<string, string> = {
    pipeline: environment.PIPELINE,
    build_id: environment.BUILD_ID,
    channel: environment.CHANNEL,
    commit: environment.COMMIT,
    execution_name: environment.EXECUTION_NAME,
    base_image: environment.BASE_IMAGE,
    image_definition: environment.IMAGE_DEFINITION,
    parent_image: environment.PARENT_IMAGE,
    // The QEMU emulator, board and firmware follow it (packer/locals.pkr.hcl qemu_architectures).
    architecture: environment.ARCHITECTURE,
    manifest_path: manifestPath,
    sbom_path: sbomPath,
    qemu_base_image: options.baseImagePath(environment.SOURCE_AMI_ID),
    qemu_output_directory: outputDir,
    qemu_ssh_private_key_file: keys.privateKeyPath,
    ...options.extraVars,
  };
  const varArgs = Object.entries(vars).flatMap(([key, value]) => ['-var', `${key}=${value}`]);
  // Ansible's own JUnit callback (ansible-core builtin) records every task's duration for the
  // bake profile (bench/bake-profile.ts); the ansible provisioner passes the environment on.
  // PACKER_LOG=1 in the caller's environment turns on Packer's debug log (each SSH session,
  // upload and command, timestamped) in packer.log; off by default.
  const env = {
    PACKER_LOG: process.env.PACKER_LOG === '1' ? '1' : '0',
    ANSIBLE_CALLBACKS_ENABLED: 'ansible.builtin.junit',
    JUNIT_OUTPUT_DIR: path.join(workDir, 'ansible-junit'),
    JUNIT_HIDE_TASK_ARGUMENTS: 'True',
  };
  const run = { logFile, env, ...pick(options, 'onLine', 'signal') };
  const template = path.join(PROJECT_ROOT, 'packer');
  try {
    await runTool('packer', ['init', template], run);
    await runTool(
      'packer',
      [
        'build',
        '-only=qemu.golden',
        '-color=false',
        '-timestamp-ui',
        '-on-error=cleanup',
        ...varArgs,
        template,
      ],
      run,
    );
  } catch (error) {
    throw new BakeFailed(`packer build failed (log: ${logFile}): ${(error as Error).message}`);
  }
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as PackerManifest;
  const build = manifest.builds.find((entry) => entry.packer_run_uuid === manifest.last_run_uuid);
  const disk = build?.files?.find((file) => file.name.endsWith('.qcow2'))?.name;
  if (!build || !disk)
    throw new BakeFailed(`packer manifest ${manifestPath} lists no qcow2 image for this run`);
  // The bake's SBOM (packer/scripts/sbom.sh), stored with the image like the runner's S3 upload.
  const sbom = build.custom_data?.sbom_path ?? sbomPath;
  if (!(await exists(sbom))) throw new BakeFailed(`the bake wrote no SBOM at ${sbom} (log: ${logFile})`);
  const image = await options.catalog.registerImage({
    disk: path.resolve(PROJECT_ROOT, disk),
    name: build.custom_data?.image_name ?? `${environment.BUILD_ID}-${build.build_time}`,
    tags: imageTags(environment, build.custom_data ?? {}),
    sbom,
  });
  await rm(outputDir, { recursive: true, force: true });
  return {
    TaskArn: `local:bake/${environment.BUILD_ID}/${build.packer_run_uuid}`,
    LastStatus: 'STOPPED',
    image,
  };
}

/**
 * Local-only shortcut for the `BakeImage` state: instead of baking, take an existing qcow2 (an
 * earlier bake, or a machine's disk after a change) as this build's image. The disk is flattened
 * into a standalone copy with `qemu-img convert` (so a copy-on-write overlay loses its backing
 * file dependency and `file` itself is left untouched), then registered with the same ownership
 * tags a bake gives, so every state after BakeImage runs exactly as after a real bake. The probe
 * that later runs is the one in the disk (`probe.sh`, `lib/`, `checks.d/` as its bake installed
 * them); the build's image definition changes nothing on the disk.
 * Use: `npm run factory -- --image-file <disk.qcow2>` (re-test an image without a bake).
 * @throws BakeFailed when the file is missing or not a disk image qemu-img can read.
 */
export async function importLocally(
  request: RunTaskRequest,
  options: Pick<LocalBakeOptions, 'catalog' | 'workDir' | 'onLine' | 'signal'> & { file: string },
): Promise<{ TaskArn: string; LastStatus: string; image: ImageRecord }> {
  const environment = bakeEnvironment(request);
  const workDir = path.resolve(options.workDir);
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const disk = path.join(workDir, `${environment.BUILD_ID}.qcow2`);
  options.onLine?.(`importing ${options.file} instead of baking (--image-file)`);
  try {
    await runTool('qemu-img', ['convert', '-O', 'qcow2', path.resolve(options.file), disk], {
      logFile: path.join(workDir, 'import.log'),
      ...pick(options, 'signal'),
    });
  } catch (error) {
    throw new BakeFailed(`cannot import ${options.file} as a disk image: ${(error as Error).message}`);
  }
  // Its SBOM, made like a bake's: the same inventory script, here on the read-only mounted disk.
  const sbom = await sbomOfDisk(disk, environment, {
    workDir,
    ...pick(options, 'signal'),
  });
  const image = await options.catalog.registerImage({
    disk,
    name: `${environment.PIPELINE}-${environment.BUILD_ID}-imported`,
    tags: imageTags(environment, {}),
    sbom,
  });
  return { TaskArn: `local:import/${environment.BUILD_ID}`, LastStatus: 'STOPPED', image };
}

/**
 * The SBOM of a disk that was not baked here: `scripts/image-inventory.sh` packs the package
 * inventory of its root filesystem (mounted read-only, as root), `packer/scripts/sbom.sh` runs
 * syft on it, as the bake's SBOM provisioners do.
 * @returns the path of the CycloneDX 1.5 JSON file, in `workDir`.
 * @throws BakeFailed when the disk holds no package database or syft fails (log in `workDir`).
 */
async function sbomOfDisk(
  disk: string,
  environment: BakeEnvironment,
  options: { workDir: string; signal?: AbortSignal },
): Promise<string> {
  const inventory = path.join(options.workDir, 'package-inventory.tar.gz');
  const sbom = path.join(options.workDir, 'sbom.cdx.json');
  const run = { logFile: path.join(options.workDir, 'sbom.log'), ...pick(options, 'signal') };
  try {
    await runTool('bash', [path.join(PROJECT_ROOT, 'scripts/image-inventory.sh'), disk, inventory], run);
    await runTool(
      'bash',
      [
        path.join(PROJECT_ROOT, 'packer/scripts/sbom.sh'),
        inventory,
        sbom,
        environment.PIPELINE,
        environment.BUILD_ID,
      ],
      run,
    );
  } catch (error) {
    throw new BakeFailed(
      `cannot make the SBOM of ${disk} (log: ${run.logFile}): ${(error as Error).message}`,
    );
  }
  await rm(inventory, { force: true });
  return sbom;
}

/**
 * The ownership tags of a baked image (docs/design.md "Tags"), from the manifest's custom_data
 * where the template records them, else from the bake request; a layered build's image also
 * names its parent (`factory:parent-image`), like `aws_tags` in packer/locals.pkr.hcl.
 */
export function imageTags(
  environment: BakeEnvironment,
  custom: Record<string, string>,
): Record<string, string> {
  return {
    [TAG.name]: custom.image_name ?? environment.BUILD_ID,
    [TAG.pipeline]: custom.pipeline ?? environment.PIPELINE,
    [TAG.buildId]: custom.build_id ?? environment.BUILD_ID,
    [TAG.architecture]: environment.ARCHITECTURE,
    [TAG.channel]: CANDIDATE_CHANNEL,
    [TAG.sourceAmi]: environment.SOURCE_AMI_ID,
    [TAG.sourceAmiName]: custom.source_image_name ?? environment.BASE_IMAGE,
    [TAG.baseImage]: custom.base_image ?? environment.BASE_IMAGE,
    ...(environment.PARENT_IMAGE ? { [TAG.parentImage]: environment.PARENT_IMAGE } : {}),
    [TAG.commit]: custom.commit ?? environment.COMMIT,
    [TAG.buildDate]: custom.build_date ?? new Date().toISOString(),
    [TAG.execution]: custom.execution_name ?? environment.EXECUTION_NAME,
  };
}

function pick<T extends object, K extends keyof T>(value: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (value[key] !== undefined) out[key] = value[key];
  return out;
}

/** True when `file` exists. */
async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
