/**
 * Catalog of image definitions: what a pipeline bakes. A definition `<name>` is
 * - its playbook `ansible/images/<name>.yml` (shared roles from `ansible/roles/` plus variables),
 * - its own probe checks `probe/checks.d/<name>/*.check` (optional; `probe/README.md`).
 *
 * The names come from `image-definitions.json`, which `npm run image-definitions` writes from the
 * playbooks on disk (`local/image-definitions.ts`); a unit test fails when it is out of date. The
 * Packer variable `image_definition` validates the same name shape (pinned by a test).
 */
import { UnknownImageDefinition } from '../errors.js';
import catalog from './image-definitions.json' with { type: 'json' };

/** Shape of a definition name (also a file name): 1-32 of a-z, 0-9, '-', starting with a letter. */
export const IMAGE_DEFINITION_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** The known image definitions, sorted. */
export const IMAGE_DEFINITION_NAMES: readonly string[] = catalog.names;

/** True when `name` is a known image definition. */
export const isImageDefinitionName = (name: string): boolean => IMAGE_DEFINITION_NAMES.includes(name);

/**
 * The image definition a pipeline bakes: the one it names, else the one called like the pipeline.
 * @throws UnknownImageDefinition naming the known definitions.
 */
export const resolveImageDefinition = (pipeline: string, imageDefinition?: string): string => {
  const name = imageDefinition ?? pipeline;
  if (!isImageDefinitionName(name))
    throw new UnknownImageDefinition(
      name,
      IMAGE_DEFINITION_NAMES,
      imageDefinition === undefined ? pipeline : undefined,
    );
  return name;
};

/** Where definitions live, relative to the repository root: `<playbooks>/<name>.yml`, `<checks>/<name>/`. */
export const IMAGE_DEFINITION_DIRS = { playbooks: 'ansible/images', checks: 'probe/checks.d' } as const;
