/** `factory images`: per pipeline, channel, architecture and region, the current and previous image. */
import type { Command } from 'commander';
import { ARCHITECTURES, trackOf } from '#commons/core/architectures.js';
import { TAG } from '#commons/core/tags.js';
import { type ChannelImage, channelImages } from '../channels.js';
import { formatAge, renderTable, shortCommit } from '../format.js';
import type { CommandContext } from './context.js';

const imagesText = (rows: readonly ChannelImage[], empty: readonly string[], now: Date): string => {
  const table = renderTable(
    ['PIPELINE', 'CHANNEL', 'REGION', 'ARCH', 'POSITION', 'IMAGE', 'AGE', 'BUILD ID', 'COMMIT', 'SOURCE AMI'],
    rows.map((row) => [
      row.pipeline,
      row.channel,
      row.region,
      row.architecture,
      row.position,
      row.found ? row.imageId : `${row.imageId} (gone)`,
      formatAge(row.createdAt, now),
      row.buildId,
      shortCommit(row.commit),
      row.sourceImageId,
    ]),
  );
  const none = empty.map((where) => `${where}: no channel promoted yet\n`).join('');
  return rows.length === 0 ? none || 'no pipelines\n' : `${table}${none}`;
};

/** Add `images` to `root`. */
export function registerImages(root: Command, context: CommandContext): void {
  root
    .command('images')
    .description('per pipeline, channel, architecture and region: the current and previous image')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--channel <name>', 'only this channel')
    .action(async (options: { pipeline?: string; channel?: string }, command: Command) => {
      const global = context.globals(command);
      const rows: ChannelImage[] = [];
      const empty: string[] = [];
      for (const backend of await context.open(global, true)) {
        const { images, pointer } = backend.ports();
        const pipelines = options.pipeline ? [options.pipeline] : await backend.pipelines();
        for (const pipeline of pipelines) {
          const all = await images.findImages({ [TAG.pipeline]: pipeline });
          let found = 0;
          // Each architecture's channels are its own pointers (core/architectures.ts tracks).
          for (const architecture of ARCHITECTURES) {
            const track = trackOf(pipeline, architecture);
            const channels = (await pointer.channels(track))
              .filter((channel) => options.channel === undefined || channel === options.channel)
              .sort();
            found += channels.length;
            for (const channel of channels) {
              const history = await pointer.history(track, channel);
              try {
                rows.push(
                  ...channelImages({ pipeline, channel, region: backend.region, history, images: all }),
                );
              } catch (error) {
                if (!(error instanceof RangeError)) throw error;
                context.io.stderr(`warning: ${track}/${channel} skipped: ${error.message}\n`);
              }
            }
          }
          if (found === 0) empty.push(`${pipeline} (${backend.region})`);
        }
      }
      context.print(global, { images: rows, withoutChannels: empty }, imagesText(rows, empty, context.now()));
    });
}
