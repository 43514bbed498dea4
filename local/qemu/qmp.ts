import { JsonLineSocket } from './json-socket.js';

/**
 * Sends one QMP command (after the greeting and `qmp_capabilities`) and returns its `return`.
 * QMP reference: QEMU docs/interop/qmp-spec.rst. `quit` may close the socket before replying;
 * that counts as success.
 * @param timeoutSeconds bound on connect and on each reply (seconds); default 5
 */
export async function qmp(
  socketPath: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutSeconds = 5,
): Promise<unknown> {
  const socket = await JsonLineSocket.connect(socketPath, timeoutSeconds);
  try {
    await socket.next((message) => 'QMP' in message, timeoutSeconds);
    socket.send({ execute: 'qmp_capabilities' });
    await socket.next((message) => 'return' in message || 'error' in message, timeoutSeconds);
    socket.send(args === undefined ? { execute: command } : { execute: command, arguments: args });
    let reply: Record<string, unknown>;
    try {
      reply = await socket.next((message) => 'return' in message || 'error' in message, timeoutSeconds);
    } catch (error) {
      if (command === 'quit') return {};
      throw error;
    }
    if ('error' in reply) throw new Error(`qmp ${command}: ${JSON.stringify(reply.error)}`);
    return reply.return;
  } finally {
    socket.close();
  }
}
