/** A fake qemu guest agent on a unix socket, for the local backend's guest-agent clients. */
import { createServer, type Server, type Socket } from 'node:net';

export type AgentHandler = (request: { execute: string; arguments?: Record<string, unknown> }) => unknown;

/**
 * A fake qemu-ga behind a unix socket: answers guest-sync-delimited with the 0xFF sentinel,
 * first replays a stale reply (as the real agent does for commands of an earlier session),
 * and delegates other commands to `handler` (return value → {"return"}, thrown → {"error"}).
 */
export async function fakeAgent(
  path: string,
  handler: AgentHandler,
  options: { silent?: boolean } = {},
): Promise<Server> {
  const server = createServer((socket: Socket) => {
    let buffer = '';
    socket.write('{"return": 12345}\n');
    socket.on('data', (chunk: Buffer) => {
      buffer += Buffer.from(chunk.filter((byte) => byte !== 0xff)).toString('utf8');
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        if (options.silent === true || line.trim() === '') continue;
        const request = JSON.parse(line) as { execute: string; arguments?: Record<string, unknown> };
        if (request.execute === 'guest-sync-delimited') {
          socket.write(
            Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${request.arguments?.id}}\n`)]),
          );
          continue;
        }
        try {
          socket.write(`${JSON.stringify({ return: handler(request) })}\n`);
        } catch (error) {
          socket.write(
            `${JSON.stringify({ error: { class: 'GenericError', desc: (error as Error).message } })}\n`,
          );
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}
