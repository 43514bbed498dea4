/** `factory promote` and `factory rollback`: move a channel, under the promotion lease. */
import type { Command } from 'commander';
import { RollbackChannelInput } from '#commons/handler-inputs.js';
import { ChannelName, ImageId } from '#commons/schemas.js';
import { rollbackChannel } from '#commons/steps/rollback-channel.js';
import { parseOrThrow } from '#commons/validation.js';
import { promoteToChannel } from '../promote.js';
import type { CommandContext } from './context.js';

/** Add `promote` and `rollback` to `root`. */
export function registerChannels(root: Command, context: CommandContext): void {
  root
    .command('promote')
    .description('point a channel at an image of its pipeline (newer builds only; under the promotion lease)')
    .argument('<image>', 'image id')
    .requiredOption('--channel <name>', 'channel')
    .option('--pipeline <name>', 'the pipeline the image must belong to')
    .action(async (imageId: string, options: { channel: string; pipeline?: string }, command: Command) => {
      const global = context.globals(command);
      parseOrThrow(ImageId, imageId, 'image');
      parseOrThrow(ChannelName, options.channel, '--channel');
      const backend = await context.one(global);
      const promotion = await promoteToChannel(
        { imageId, channel: options.channel, pipeline: options.pipeline },
        backend.ports(),
        { holder: backend.holder },
      );
      context.print(
        global,
        promotion,
        `${promotion.reason === 'already current' ? 'already current' : 'promoted'}: ${promotion.pipeline}/${promotion.channel} → ${promotion.imageId} (previous ${promotion.previousImageId ?? 'none'}; ${promotion.parameterName} v${promotion.parameterVersion})\n`,
      );
    });

  root
    .command('rollback')
    .description('point a channel back at its previous image, or at --image (under the promotion lease)')
    .requiredOption('--pipeline <name>', 'pipeline')
    .requiredOption('--channel <name>', 'channel')
    .option('--image <id>', 'roll back to this image (default: the previous one)')
    .option('--architecture <arch>', 'the architecture whose channel moves: x86_64 (default) or arm64')
    .action(
      async (
        options: { pipeline: string; channel: string; image?: string; architecture?: string },
        command: Command,
      ) => {
        const global = context.globals(command);
        const input = parseOrThrow(
          RollbackChannelInput,
          {
            pipeline: options.pipeline,
            ...(options.architecture ? { architecture: options.architecture } : {}),
            channel: options.channel,
            ...(options.image ? { imageId: options.image } : {}),
          },
          'rollback',
        );
        const backend = await context.one(global);
        const rolledBack = await rollbackChannel(input, backend.ports(), { holder: backend.holder });
        context.print(
          global,
          rolledBack,
          `rolled back: ${rolledBack.pipeline}/${rolledBack.channel} → ${rolledBack.imageId} (withdrawn ${rolledBack.withdrawnImageId ?? 'none'}; ${rolledBack.parameterName} v${rolledBack.parameterVersion})\n`,
        );
      },
    );
}
