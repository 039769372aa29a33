/**
 * The flags each command's parser accepts are the flags its --help, docs/commands.md and
 * mirror-policyd(8) list, and every `mirror-policyd COMMAND --flag` the README and the docs
 * show is one that COMMAND accepts. What a parser accepts is read from the parser itself: each
 * command runs with `--help` while `parse` (cli/args) records the options it was given.
 */
import t, { type Test } from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import * as args from '../../src/cli/args.js';
import { usage } from '../../src/cli/usage.js';
import type { CommandIO } from '../../src/cli/commands.js';
import { repoPath } from '../helpers/repo.js';

const ROOT = repoPath('./');
const read = (path: string): string => readFileSync(`${ROOT}${path}`, 'utf8');
/** A man page as text: `\-` is `-`, fonts and quotes dropped. */
const roff = (path: string): string =>
  read(path)
    .replace(/\\-/g, '-')
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\\(dq/g, '"');

type Command = (argv: readonly string[], io: CommandIO) => Promise<number>;
/** Each command's module and function, as cli/main loads them. */
const COMMANDS: Record<string, readonly [string, string]> = {
  check: ['commands.js', 'checkCommand'],
  render: ['commands.js', 'renderCommand'],
  import: ['commands.js', 'importCommand'],
  run: ['daemon-commands.js', 'runCommand'],
  status: ['daemon-commands.js', 'statusCommand'],
  reload: ['reload.js', 'reloadCommand'],
  restore: ['daemon-commands.js', 'restoreCommand'],
  resolve: ['resolve.js', 'resolveCommand'],
  pull: ['pull.js', 'pullCommand'],
};
/** The flags every command takes (documented once, not in each synopsis). */
const COMMON = Object.keys(args.COMMON_OPTIONS).map((k) => `--${k}`);

const setOf = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();
const flagsIn = (text: string): string[] => setOf([...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
const without = (xs: readonly string[], drop: readonly string[]): string[] => xs.filter((x) => !drop.includes(x));

/**
 * A module beside this compiled test, as an absolute URL: tap's mocks resolve a relative path
 * from the caller's source-mapped place (test/…/x.test.ts), where no .js module is.
 */
const compiled = (relative: string): string => new URL(relative, import.meta.url).href;

/** What each command's parser accepts: its long flags (`--name`) and its short ones (`-o`). */
async function acceptedFlags(t: Test): Promise<Map<string, { long: string[]; short: string[] }>> {
  const accepted = new Map<string, { long: string[]; short: string[] }>();
  for (const [command, [file, fn]] of Object.entries(COMMANDS)) {
    let seen: args.Options | undefined;
    const recording = { ...args, parse: (a: readonly string[], o: args.Options, m?: number) => ((seen = o), args.parse(a, o, m)) };
    const module = await t.mockImport<Record<string, Command>>(compiled(`../../src/cli/${file}`), { [compiled('../../src/cli/args.js')]: recording });
    const run = module[fn] as Command;
    t.equal(await run(['--help'], { stdout: () => undefined }), 0, `${command} --help`);
    const options = seen ?? {};
    accepted.set(command, {
      long: setOf(Object.keys(options).map((k) => `--${k}`)),
      short: setOf(Object.values(options).flatMap((o) => (o.short === undefined ? [] : [`-${o.short}`]))),
    });
  }
  return accepted;
}

/** docs/commands.md's synopsis block: each command's lines (its first and the indented ones after). */
function docsSynopsis(): Map<string, string> {
  const block = /```\n(mirror-policyd run [\s\S]*?)```/.exec(read('docs/commands.md'))?.[1] ?? '';
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of block.split('\n')) {
    const head = /^mirror-policyd ([a-z]+)\b/.exec(line);
    if (head) current = head[1];
    else if (!/^\s/.test(line)) current = undefined;
    if (current !== undefined) out.set(current, `${out.get(current) ?? ''}\n${line}`);
  }
  return out;
}

/** mirror-policyd(8)'s SYNOPSIS: each command's part (up to the next .br). */
function manSynopsis(man: string): Map<string, string> {
  const synopsis = /\n\.SH SYNOPSIS\n([\s\S]*?)\n\.SH /.exec(man)?.[1] ?? '';
  const out = new Map<string, string>();
  for (const part of synopsis.split('\n.br\n')) {
    const head = /^\.B mirror-policyd ([a-z]+)/.exec(part);
    if (head) out.set(head[1] as string, part);
  }
  return out;
}

/** One section (`.SH NAME`) of a man page; one entry (`.TP` whose next line matches `head`) of it. */
const section = (man: string, name: string): string => new RegExp(`\\n\\.SH ${name}\\n([\\s\\S]*?)(?=\\n\\.SH |$)`).exec(man)?.[1] ?? '';
const entry = (text: string, head: RegExp): string =>
  text
    .split('\n.TP\n')
    .slice(1)
    .find((e) => head.test(e.split('\n')[0] ?? '')) ?? '';

t.test('each command: its parser, its --help, docs/commands.md and mirror-policyd(8) list the same flags', async (t) => {
  const accepted = await acceptedFlags(t);
  const docs = docsSynopsis();
  const man = roff('packaging/man/mirror-policyd.8');
  const synopsis = manSynopsis(man);
  t.same(setOf(accepted.keys()), setOf([...usage().matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string)), 'the commands --help lists');
  for (const [command, { long, short }] of accepted) {
    t.test(command, async (t) => {
      for (const f of COMMON) t.ok(long.includes(f), `takes ${f}, as every command does`);
      const help = usage(command);
      t.same(flagsIn(help), long, '--help lists every flag it accepts, and no other');
      for (const s of short) t.ok(new RegExp(`(^|\\s)${s},? `, 'm').test(help), `--help shows ${s}`);

      const own = without(long, COMMON);
      t.same(flagsIn(docs.get(command) ?? ''), own, 'docs/commands.md: the synopsis has every flag, and no other');
      for (const s of short.filter((s) => s !== '-h'))
        t.ok(new RegExp(`[[ ]${s}\\b`).test(docs.get(command) ?? ''), `docs/commands.md: the synopsis shows ${s}`);
      t.match(read('docs/commands.md'), /`-h`\/`--help`/, 'docs/commands.md: -h, once for every command');

      const manPart = synopsis.get(command) ?? '';
      t.ok(manPart !== '', 'mirror-policyd(8): in the SYNOPSIS');
      const inSynopsis = flagsIn(manPart);
      if (/\[\s*OPTIONS\s*\]/.test(manPart)) {
        t.same(without(inSynopsis, own), [], 'mirror-policyd(8) SYNOPSIS: no flag it does not take');
        // The rest: in its COMMANDS entry (pull) or, for run, as keys of CONFIGURATION and in OPTIONS.
        const described = `${entry(section(man, 'COMMANDS'), new RegExp(`^\\.BI? ${command}\\b`))}\n${section(man, 'OPTIONS')}`;
        const keys = [...section(man, 'CONFIGURATION').matchAll(/\n\.TP\n\.B ([a-z][a-z-]*)\n/g)].map((m) => `--${m[1] as string}`);
        t.same(without(own, [...inSynopsis, ...flagsIn(described), ...(command === 'run' ? keys : [])]), [], 'mirror-policyd(8): every other flag described');
      } else {
        t.same(inSynopsis, own, 'mirror-policyd(8) SYNOPSIS: every flag, and no other');
      }
      for (const s of short) t.ok(new RegExp(`(^|\\s)${s}\\b`, 'm').test(man), `mirror-policyd(8) shows ${s}`);
    });
  }
});

t.test('every flag the man pages and the docs give a command is one it accepts', async (t) => {
  const accepted = await acceptedFlags(t);
  const all = setOf([...accepted.values()].flatMap((a) => a.long));
  for (const page of ['packaging/man/mirror-policyd.8', 'packaging/man/mirror-policy.d.5']) {
    // The program's own --version; flags of other programs named in the pages (systemd's).
    const others = ['--version', '--now'];
    t.same(without(flagsIn(roff(page)), [...all, ...others]), [], `${page}: no flag no command takes`);
  }
  const pages = ['README.md', 'SECURITY.md', ...readdirSync(`${ROOT}docs`).map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'));
  let shown = 0;
  for (const page of pages) {
    // Every invocation shown: `mirror-policyd COMMAND ...` up to the end of its line or code span.
    const text = read(page);
    for (const m of text.matchAll(/\bmirror-policyd ([a-z]+)((?:[ \t]+(?:\\\n)?[^\s`|#;&)]+)*)/g)) {
      const [shownCall, command, rest] = m;
      const flags = accepted.get(command as string)?.long;
      if (flags === undefined) continue; // prose: "mirror-policyd renders", the unit's name
      if (text.startsWith('\nmirror-policyd: ', m.index + shownCall.length)) continue; // a usage error shown as one
      shown++;
      t.same(without(flagsIn(rest as string), flags), [], `${page}: mirror-policyd ${command}${rest as string}`);
    }
  }
  t.ok(shown > 20, `the invocations are found (${shown})`);
});
