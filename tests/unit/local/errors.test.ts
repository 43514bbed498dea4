/** The local backend's errors extend the project's base error and keep their names. */
import { describe, expect, it } from 'vitest';
import { FactoryError } from '#commons/errors.js';
import * as bake from '#local/bake.js';
import * as processes from '#local/process.js';
import * as guestAgent from '#local/qemu/guest-agent.js';
import * as jsonSocket from '#local/qemu/json-socket.js';
import * as ssh from '#local/qemu/ssh.js';
import * as vm from '#local/qemu/vm.js';
import * as tasks from '#local/tasks.js';

const errorClasses = Object.entries({
  ...bake,
  ...processes,
  ...guestAgent,
  ...jsonSocket,
  ...ssh,
  ...vm,
  ...tasks,
}).filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error);

describe('local errors', () => {
  it('are found', () => {
    expect(errorClasses.map(([name]) => name).sort()).toEqual([
      'BakeFailed',
      'CommandFailed',
      'GuestAgentError',
      'GuestAgentTimeout',
      'GuestExecTimeout',
      'JsonSocketClosed',
      'JsonSocketTimeout',
      'LocalTaskTableMismatch',
      'SshNotReady',
      'VmLaunchFailed',
      'VmStopFailed',
    ]);
  });

  it.each(errorClasses)('%s extends FactoryError and is named like its class', (name, value) => {
    const ErrorClass = value as new (...args: unknown[]) => Error;
    const error = new ErrorClass('a', 'b', 'c');

    expect(error).toBeInstanceOf(FactoryError);
    expect(error.name).toBe(name);
  });
});
