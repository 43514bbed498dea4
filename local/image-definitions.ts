/**
 * The image definitions on disk, and `npm run image-definitions`, which writes their names to
 * `functions/commons/core/image-definitions.json` (the catalog the pipeline validates against; the
 * Lambda bundles cannot read the repository at run time).
 *
 * A definition is a playbook `ansible/images/<name>.yml`; its own probe checks, when it has some,
 * are `probe/checks.d/<name>/*.check`. A checks directory without a playbook is an error.
 *
 * Usage: `npm run image-definitions` (write the catalog) or `… -- --check` (exit 1 when stale).
 * Also what `npm run factory` bakes for a pipeline: its definition and, for a layered build, its parent.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  IMAGE_DEFINITION_DIRS,
  IMAGE_DEFINITION_NAME,
  resolveImageDefinition,
} from '#commons/core/image-definitions.js';
import { InvalidInput } from '#commons/errors.js';
import { ParentSource } from '#commons/execution-input.js';
import { parsePipelines } from '#commons/pipelines.js';
import { parseOrThrow } from '#commons/validation.js';
import { PROJECT_ROOT } from '#local/process.js';

/** Catalog file, relative to the repository root. */
export const CATALOG_PATH = 'functions/commons/core/image-definitions.json';

/** A definition file or directory that does not fit the layout. */
export class InvalidImageDefinitionLayout extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidImageDefinitionLayout';
  }
}

const entries = async (directory: string): Promise<string[]> => {
  try {
    return await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
};

/**
 * Names of the image definitions under `root`, sorted: the `*.yml` files of `ansible/images/`.
 * @throws InvalidImageDefinitionLayout for a badly named playbook or a checks directory of no definition.
 */
export async function imageDefinitionsOnDisk(root: string = PROJECT_ROOT): Promise<string[]> {
  const { playbooks: playbookDir, checks: checksDir } = IMAGE_DEFINITION_DIRS;
  const playbooks = (await entries(path.join(root, playbookDir)))
    .filter((file) => file.endsWith('.yml'))
    .map((file) => file.slice(0, -'.yml'.length));
  const bad = playbooks.filter((name) => !IMAGE_DEFINITION_NAME.test(name));
  if (bad.length > 0)
    throw new InvalidImageDefinitionLayout(
      `${playbookDir}/${bad[0]}.yml: a definition name is 1-32 of a-z, 0-9 and '-', starting with a letter`,
    );
  const orphans = (await entries(path.join(root, checksDir))).filter((name) => !playbooks.includes(name));
  if (orphans.length > 0)
    throw new InvalidImageDefinitionLayout(
      `${checksDir}/${orphans[0]}/ belongs to no image definition (no ${playbookDir}/${orphans[0]}.yml)`,
    );
  return playbooks.sort();
}

/** The catalog document for `names`. Pure. */
export const renderCatalog = (names: readonly string[]): string =>
  [
    '{',
    `  "generatedBy": "npm run image-definitions, from ${IMAGE_DEFINITION_DIRS.playbooks}/*.yml: do not edit by hand",`,
    `  "names": [${[...names]
      .sort()
      .map((name) => JSON.stringify(name))
      .join(', ')}]`,
    '}',
    '',
  ].join('\n');

/**
 * Writes the catalog of `root` from its files; with `check`, only compares.
 * @returns whether the catalog on disk was already up to date.
 */
export async function syncCatalog(root: string = PROJECT_ROOT, check = false): Promise<boolean> {
  const wanted = renderCatalog(await imageDefinitionsOnDisk(root));
  const file = path.join(root, CATALOG_PATH);
  const current = await readFile(file, 'utf8').catch(() => '');
  if (current === wanted) return true;
  if (!check) await writeFile(file, wanted);
  return false;
}

/**
 * The image definition `npm run factory` bakes: `image` (`--image`), else the one the pipeline's
 * entry in `pipelines` (the `PIPELINES` format, `pipeline=[imageDefinition@]baseImage[:channel],…`)
 * names, else the definition named like the pipeline.
 * @throws when the catalog is older than the playbooks under `root`, when `pipelines` is malformed
 *   (MissingConfiguration) or the definition is unknown (UnknownImageDefinition).
 */
export async function chooseImageDefinition(
  pipeline: string,
  image: string | undefined,
  pipelines: string | undefined,
  root: string = PROJECT_ROOT,
): Promise<string> {
  if (!(await syncCatalog(root, true)))
    throw new Error(
      `the image definitions on disk (${(await imageDefinitionsOnDisk(root)).join(', ')}) differ from ${CATALOG_PATH}: run npm run image-definitions`,
    );
  const configured = pipelines
    ? parsePipelines(pipelines, 'stable').find((entry) => entry.pipeline === pipeline)
    : undefined;
  return resolveImageDefinition(pipeline, image ?? configured?.imageDefinition);
}

/**
 * The parent of a layered local build: `parent` (`--parent <pipeline>[/<channel>]`, channel
 * default `stable`), else the one the pipeline's entry in `pipelines` names (`pipeline:<parent>[/<channel>]`),
 * else undefined (a full bake from the base image).
 * @throws InvalidInput for a malformed `parent` or one naming the pipeline itself,
 *   MissingConfiguration when `pipelines` is malformed.
 */
export function chooseParent(
  pipeline: string,
  parent: string | undefined,
  pipelines: string | undefined,
): { pipeline: string; channel: string } | undefined {
  if (parent === undefined) {
    return pipelines
      ? parsePipelines(pipelines, 'stable').find((entry) => entry.pipeline === pipeline)?.parent
      : undefined;
  }
  const [parentPipeline, channel, ...rest] = parent.split('/');
  const chosen = parseOrThrow(
    ParentSource,
    { pipeline: parentPipeline, ...(channel === undefined ? {} : { channel }) },
    '--parent (expected <pipeline>[/<channel>])',
  );
  if (rest.length > 0) throw new InvalidInput(`invalid --parent ${parent}: expected <pipeline>[/<channel>]`);
  if (chosen.pipeline === pipeline)
    throw new InvalidInput(`--parent ${parent}: pipeline ${pipeline} cannot be its own parent`);
  return chosen;
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const names = await imageDefinitionsOnDisk();
  const upToDate = await syncCatalog(PROJECT_ROOT, check);
  if (check && !upToDate) {
    process.stderr.write(`${CATALOG_PATH} is out of date: run npm run image-definitions\n`);
    return 1;
  }
  process.stdout.write(
    `${CATALOG_PATH}: ${names.join(', ')}${upToDate ? ' (unchanged)' : check ? '' : ' (written)'}\n`,
  );
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`image-definitions: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
