/**
 * Flag parsing for every subcommand, with node:util parseArgs (strict: an unknown or
 * malformed flag is a usage error, exit 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/diagnostic.js';
import { LOG_LEVELS, type LogFormat } from '../core/log-levels.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const satisfies Options;

export interface Parsed<T> {
  readonly values: T;
  readonly positionals: string[];
}

export function parse<O extends Options>(
  args: readonly string[],
  options: O,
  maxPositionals = 0,
): Parsed<ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true; args: string[] }>>['values']> {
  let result;
  try {
    result = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (result.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${result.positionals[maxPositionals] ?? ''}"`);
  }
  return { values: result.values as never, positionals: result.positionals };
}

export function logSettings(values: { 'log-level'?: string; 'log-format'?: string }): { level: string; format: LogFormat } {
  const level = values['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const format = values['log-format'] ?? 'pretty';
  if (format !== 'pretty' && format !== 'json') throw new UsageError('--log-format must be pretty or json');
  return { level, format };
}
