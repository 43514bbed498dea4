/** Who the CLI is when it takes the promotion lease (either backend). */
import { hostname, userInfo } from 'node:os';

/** `factory-cli:<user>@<host>:<pid>`: who holds a lease the CLI takes (shown to whoever waits on it). */
export function cliHolder(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return `factory-cli:${user}@${hostname()}:${process.pid}`;
}
