/**
 * `factory diff <imageA> <imageB>`: the package changes from image A to image B, read from each
 * image's SBOM (`factory:sbom`, `functions/commons/core/tags.ts`) and compared by
 * `functions/commons/core/sbom.ts` (packages keyed by purl type, namespace, name and arch; Debian
 * versions in dpkg's order).
 */
import type { Command } from 'commander';
import {
  diffCounts,
  diffPackages,
  type PackageDiff,
  packageLabel,
  packageSet,
  parseSbom,
  SbomInvalid,
} from '#commons/core/sbom.js';
import { TAG } from '#commons/core/tags.js';
import { SbomUnreadable } from '#commons/errors.js';
import type { Backend } from '../backend.js';
import { OperatorError } from '../errors.js';
import { renderTable } from '../format.js';
import type { CommandContext } from './context.js';

/** The SBOM of one image, its URI and its package set. */
async function packagesOf(backend: Backend, imageId: string) {
  const { images, sboms } = backend.ports();
  const image = await images.getImage(imageId);
  if (image === undefined)
    throw new OperatorError(
      `image ${imageId} is not an image of ${backend.where}`,
      'list the images with `factory images` (or pass --local / --stage / --region of the image)',
    );
  const uri = image.tags[TAG.sbom];
  if (uri === undefined || uri === '')
    throw new OperatorError(
      `image ${imageId} has no SBOM (no ${TAG.sbom} tag): it was baked before the factory made SBOMs`,
      'compare two images baked by this version of the factory',
    );
  try {
    return { uri, packages: packageSet(parseSbom(await sboms.read(uri), uri)) };
  } catch (error) {
    if (error instanceof SbomUnreadable || error instanceof SbomInvalid)
      throw new OperatorError(
        `the SBOM of ${imageId}: ${error.message}`,
        'check the object (or file) the image names, and your permission to read it',
      );
    throw error;
  }
}

const diffText = (imageA: string, imageB: string, diff: PackageDiff): string => {
  const rows = [
    ...diff.added.map((pkg) => ['added', packageLabel(pkg), '', pkg.version]),
    ...diff.removed.map((pkg) => ['removed', packageLabel(pkg), pkg.version, '']),
    ...diff.upgraded.map((pkg) => ['upgraded', packageLabel(pkg), pkg.from, pkg.to]),
    ...diff.downgraded.map((pkg) => ['downgraded', packageLabel(pkg), pkg.from, pkg.to]),
  ];
  const head = `${imageA} → ${imageB}: ${diffCounts(diff)}\n`;
  return rows.length === 0 ? head : `${head}${renderTable(['CHANGE', 'PACKAGE', imageA, imageB], rows)}`;
};

/** Add `diff` to `root`. */
export function registerDiff(root: Command, context: CommandContext): void {
  root
    .command('diff')
    .description(
      'package changes from imageA to imageB (added, removed, upgraded, downgraded), from their SBOMs',
    )
    .argument('<imageA>', 'the older image')
    .argument('<imageB>', 'the newer image')
    .action(async (imageA: string, imageB: string, _options: unknown, command: Command) => {
      const global = context.globals(command);
      const backend = await context.one(global);
      const [a, b] = [await packagesOf(backend, imageA), await packagesOf(backend, imageB)];
      const diff = diffPackages(a.packages, b.packages);
      context.print(
        global,
        {
          from: { imageId: imageA, sbom: a.uri, packages: a.packages.size },
          to: { imageId: imageB, sbom: b.uri, packages: b.packages.size },
          ...diff,
        },
        diffText(imageA, imageB, diff),
      );
    });
}
