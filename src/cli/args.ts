/**
 * Flag parsing for every subcommand, with node:util parseArgs. Strict: an unknown or malformed
 * flag is a usage error (exit 2), said in our words, with the flag most likely meant.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/diagnostic.js';
import { closestName } from '../core/field-reader.js';
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

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];
type OptionToken = Extract<Token, { kind: 'option' }>;

/** Other tools' words for what a flag of ours does: the flag (with its value) and the option it needs. */
const SYNONYMS: Readonly<Record<string, { readonly say: string; readonly needs?: string }>> = {
  '--verbose': { say: '--log-level debug', needs: 'log-level' },
  '-v': { say: '--log-level debug', needs: 'log-level' },
  '--debug': { say: '--log-level debug', needs: 'log-level' },
  '--quiet': { say: '--log-level warn', needs: 'log-level' },
  '-q': { say: '--log-level warn', needs: 'log-level' },
  '--dry-run': { say: '--diff', needs: 'diff' },
  '--version': { say: 'mirror-policyd --version' },
};

/** `unknown option --polic-dir; did you mean --policy-dir?` for a flag `options` do not have. */
function unknownOption(token: OptionToken, raw: string, options: Options): string {
  const longNames = Object.keys(options);
  const hint = (word: string): string => {
    const synonym = Object.hasOwn(SYNONYMS, word) ? SYNONYMS[word] : undefined;
    if (synonym && (synonym.needs === undefined || Object.hasOwn(options, synonym.needs))) return `; did you mean ${synonym.say}?`;
    const guess = closestName(word.replace(/^-+/, ''), longNames);
    return guess === undefined ? '' : `; did you mean --${guess}?`;
  };
  // `-policy-dir` is read as the short flags -p -o -l...: a long flag with one dash, or a typo in a group.
  if (token.rawName.length === 2 && /^-[^-]{2}/.test(raw)) {
    const word = raw.split('=')[0] as string;
    const guess = hint(word);
    return guess === '' ? `unknown option ${token.rawName} (in ${raw})` : `unknown option ${word}${guess}`;
  }
  return `unknown option ${token.rawName}${hint(token.rawName)}`;
}

/** Why this occurrence of a known flag is wrong, if it is. */
function optionProblem(token: OptionToken, options: Options): string | undefined {
  const long = `--${token.name}`;
  const shown = token.rawName === long ? long : `${token.rawName} (${long})`;
  if (options[token.name]?.type === 'boolean') return token.value === undefined ? undefined : `${shown} takes no value (write ${token.rawName} alone)`;
  if (token.value === undefined) return `${shown} needs a value`;
  // Every value is a path, a number or a name: empty is a slip (`--output=$UNSET`), never "none".
  if (token.value === '') return `${shown} needs a value, not an empty one`;
  // node:util would take the next flag as the value: `--policy-dir --json` is a forgotten value.
  if (!token.inlineValue && /^-./.test(token.value))
    return `${shown} needs a value, but the next argument "${token.value}" is an option; for a value starting with "-", write ${long}=${token.value}`;
  return undefined;
}

/**
 * Throws the usage error of the first malformed flag in `args`, in the order given. A flag given
 * twice is not one: the last counts, so a wrapper can add a flag that overrides (documented).
 */
function checkOptions(args: readonly string[], options: Options): void {
  const { tokens } = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option-terminator') return;
    if (token.kind !== 'option') continue;
    if (!Object.hasOwn(options, token.name)) throw new UsageError(unknownOption(token, args[token.index] ?? '', options));
    const problem = optionProblem(token, options);
    if (problem !== undefined) throw new UsageError(problem);
  }
}

export function parse<O extends Options>(
  args: readonly string[],
  options: O,
  maxPositionals = 0,
): Parsed<ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true; args: string[] }>>['values']> {
  checkOptions(args, options);
  let result;
  try {
    result = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message); // not reached: checkOptions says it first, better
  }
  if (result.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${result.positionals[maxPositionals] ?? ''}"`);
  }
  return { values: result.values as never, positionals: result.positionals };
}

export function logSettings(values: { 'log-level'?: string; 'log-format'?: string }): { level: string; format: LogFormat } {
  const level = values['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(level)}`);
  const format = values['log-format'] ?? 'pretty';
  if (format !== 'pretty' && format !== 'json') throw new UsageError(`--log-format must be pretty or json, not ${JSON.stringify(format)}`);
  return { level, format };
}
