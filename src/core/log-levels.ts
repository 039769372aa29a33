/**
 * The log levels and formats a user may choose, apart from the logger (src/core/log.ts) so that
 * validating a setting does not load pino. Pure.
 */
export type LogFormat = 'pretty' | 'json';

export const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
