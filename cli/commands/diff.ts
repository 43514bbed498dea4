/** `factory diff`: package changes between two images (not available yet). */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** Add `diff` to `root`. */
export function registerDiff(root: Command): void {
  root
    .command('diff')
    .description('package changes between two images (not yet available)')
    .argument('<imageA>')
    .argument('<imageB>')
    .action(() => {
      throw new UsageError(
        'factory diff is not available yet',
        'it needs the per-image SBOMs of issue 11 point 2 (SBOM and package diff), which the factory does not produce yet',
      );
    });
}
