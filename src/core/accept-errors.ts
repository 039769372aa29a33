/**
 * A listening server's errors after listen() (a failed accept(): EMFILE or ENFILE once libuv's
 * spare descriptor is gone, ENOMEM, ENOBUFS) are emitted as 'error' on it; with no listener Node
 * throws them, and the whole daemon dies for one connection it could not take. They are the
 * moment's, not the server's: it keeps listening. Logged once per cause (FailureLog), the
 * repeats at debug, and a line when a connection is accepted again.
 */
import type { Server } from 'node:net';
import { FailureLog } from './failure-log.js';
import type { Logger } from './log.js';

export function logAcceptErrors(server: Server, what: string, log: Logger | undefined): void {
  const failures = new FailureLog();
  let count = 0;
  server.on('error', (e: Error) => {
    count++;
    if (failures.news(e)) log?.error({ err: e.message }, `${what}: ${e.message}; still listening`);
    else log?.debug({ err: e.message }, `${what}: ${e.message} again (${count} since the last connection accepted)`);
  });
  server.on('connection', () => {
    if (failures.cleared()) log?.info(`${what}: accepting connections again (${count} failed before)`);
    count = 0;
  });
}
