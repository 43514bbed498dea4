/**
 * The process around {@link runCli}: stdout/stderr, the environment, Ctrl-C (aborts following or
 * the local run: a second Ctrl-C exits at once), and the exit status.
 */
import { runCli } from './main.js';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (): void => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  interactive: process.stderr.isTTY === true,
  signal: controller.signal,
});
