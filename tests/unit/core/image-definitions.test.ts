/**
 * The image definition catalog: the generated list matches the playbooks on disk, the layout
 * rules hold, and the Packer variable validates the same name shape.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  IMAGE_DEFINITION_NAME,
  IMAGE_DEFINITION_NAMES,
  resolveImageDefinition,
} from '#commons/core/image-definitions.js';
import { UnknownImageDefinition } from '#commons/errors.js';
import {
  CATALOG_PATH,
  InvalidImageDefinitionLayout,
  imageDefinitionsOnDisk,
  renderCatalog,
  syncCatalog,
} from '#local/image-definitions.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

describe('image definition catalog', () => {
  it('lists exactly the playbooks of ansible/images (run npm run image-definitions when this fails)', async () => {
    // Act
    const onDisk = await imageDefinitionsOnDisk(repoRoot);

    // Assess
    expect(IMAGE_DEFINITION_NAMES).toEqual(onDisk);
    expect(onDisk).toEqual(expect.arrayContaining(['base', 'web']));
    expect(await syncCatalog(repoRoot, true)).toBe(true);
  });

  it('has only valid drop-in checks in probe/checks.d/<definition>/', async () => {
    // Prepare
    const definitions = await readdir(join(repoRoot, 'probe/checks.d'));

    // Act
    const reports = await Promise.all(
      definitions.map(async (name) => {
        const checks = join(repoRoot, 'probe/checks.d', name);
        const { stdout } = await run('bash', [
          join(repoRoot, 'probe/probe.sh'),
          '--validate',
          '--checks-dir',
          checks,
        ]);
        return stdout.trim();
      }),
    );

    // Assess
    expect(definitions).toContain('web');
    for (const report of reports) expect(report).toMatch(/^\d+ drop-in checks in .*, 0 invalid$/);
  });

  it('validates image_definition in Packer with the same name shape', async () => {
    // Prepare
    const hcl = await readFile(join(repoRoot, 'packer/variables.pkr.hcl'), 'utf8');
    const block = hcl.slice(hcl.indexOf('variable "image_definition"'));
    const regex = /regex\("([^"]+)", var\.image_definition\)/.exec(block)?.[1];

    // Assess
    expect(regex).toBe(IMAGE_DEFINITION_NAME.source);
    expect(/default\s+=\s+"([^"]+)"/.exec(block)?.[1]).toSatisfy((name: string) =>
      IMAGE_DEFINITION_NAMES.includes(name),
    );
  });

  it('renders a sorted catalog that parses back', () => {
    // Act
    const rendered = renderCatalog(['web', 'base', 'ci-runner']);

    // Assess
    expect(JSON.parse(rendered).names).toEqual(['base', 'ci-runner', 'web']);
    expect(rendered.endsWith('\n')).toBe(true);
  });
});

describe('image definitions on disk', () => {
  let root: string;
  const touch = async (file: string, content = '---\n') => {
    await mkdir(join(root, file, '..'), { recursive: true });
    await writeFile(join(root, file), content);
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'image-definitions-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds the playbooks, ignores other files, and writes the catalog only when asked', async () => {
    // Prepare
    await touch('ansible/images/web.yml');
    await touch('ansible/images/base.yml');
    await touch('ansible/images/README.md');
    await touch('probe/checks.d/web/10-a.check');
    await touch(CATALOG_PATH, renderCatalog(['base']));

    // Act
    const names = await imageDefinitionsOnDisk(root);
    const checked = await syncCatalog(root, true);
    const before = await readFile(join(root, CATALOG_PATH), 'utf8');
    const written = await syncCatalog(root);

    // Assess
    expect(names).toEqual(['base', 'web']);
    expect(checked).toBe(false);
    expect(before).toBe(renderCatalog(['base']));
    expect(written).toBe(false);
    expect(await readFile(join(root, CATALOG_PATH), 'utf8')).toBe(renderCatalog(['base', 'web']));
    expect(await syncCatalog(root, true)).toBe(true);
  });

  it.each([
    [['ansible/images/Web.yml'], "ansible/images/Web.yml: a definition name is 1-32 of a-z, 0-9 and '-'"],
    [
      ['ansible/images/web.yml', 'probe/checks.d/wbe/10-a.check'],
      'probe/checks.d/wbe/ belongs to no image definition (no ansible/images/wbe.yml)',
    ],
  ])('refuses the layout %j', async (files, message) => {
    // Prepare
    for (const file of files) await touch(file);

    // Act / Assess
    await expect(imageDefinitionsOnDisk(root)).rejects.toThrow(InvalidImageDefinitionLayout);
    await expect(imageDefinitionsOnDisk(root)).rejects.toThrow(message);
  });
});

describe('resolveImageDefinition', () => {
  it.each([
    ['web', undefined, 'web'],
    ['edge', 'base', 'base'],
    ['base', 'web', 'web'],
  ])('pipeline %s with imageDefinition %s bakes %s', (pipeline, named, expected) => {
    expect(resolveImageDefinition(pipeline, named)).toBe(expected);
  });

  it('names the known definitions, and says when the name came from the pipeline', () => {
    expect(() => resolveImageDefinition('web', 'nginx')).toThrow(UnknownImageDefinition);
    expect(() => resolveImageDefinition('web', 'nginx')).toThrow(
      'unknown image definition "nginx"; expected one of: base, web',
    );
    expect(() => resolveImageDefinition('api')).toThrow(
      'unknown image definition "api" (pipeline "api" names none, so its own name was tried); expected one of: base, web',
    );
  });
});
