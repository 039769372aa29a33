/**
 * The man pages and the README say what the program does: every config key, every flag of
 * every command, an exit status for every command, every OpenShift kind, every refusal.
 * (The texts are read as they ship; `\-` in roff is a plain `-`.)
 */
import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { COMMON_OPTIONS } from '../../src/cli/args.js';
import { CONFIG_KEYS, DEFAULTS, resolveConfig } from '../../src/daemon/config.js';
import { formatDiagnostic } from '../../src/core/diagnostic.js';
import { parseFragment } from '../../src/fragments/index.js';
import { FILE_SETTINGS, RUN_SETTINGS } from '../../src/daemon/run-options.js';
import { usage } from '../../src/cli/usage.js';
import { repoPath } from '../helpers/repo.js';

const ROOT = repoPath('./');
const roff = (name: string): string =>
  readFileSync(`${ROOT}packaging/man/${name}`, 'utf8')
    .replace(/\\-/g, '-')
    .replace(/\\\(dq/g, '"');
const man8 = roff('mirror-policyd.8');
const man5 = roff('mirror-policy.d.5');
const readme = readFileSync(`${ROOT}README.md`, 'utf8');
/** The README keeps install and quick start; the commands and their exit table live in docs/commands.md. */
const commandsDoc = readFileSync(`${ROOT}docs/commands.md`, 'utf8');
const configurationDoc = readFileSync(`${ROOT}docs/configuration.md`, 'utf8');

const COMMANDS = [...usage().matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string);

function section(text: string, name: string): string {
  const start = text.indexOf(`\n.SH ${name}\n`);
  const end = text.indexOf('\n.SH ', start + 1);
  return start < 0 ? '' : text.slice(start, end < 0 ? undefined : end);
}

t.test('the commands are known', async (t) => {
  t.same(COMMANDS, ['check', 'render', 'import', 'run', 'status', 'reload', 'restore', 'resolve', 'pull']);
});

t.test('mirror-policyd(8) documents every config key, with its own entry', async (t) => {
  const conf = section(man8, 'CONFIGURATION');
  for (const key of CONFIG_KEYS) t.match(conf, new RegExp(`\\n\\.TP\\n\\.B ${key}\\n`), key);
});

/** Each distinct string once, sorted: the lists below are compared as sets. */
const setOf = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();
const flagsIn = (text: string): string[] => setOf([...text.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
const RUN_FLAGS = RUN_SETTINGS.filter((r) => r.flag === 'run').map((r) => `--${r.name}`);

t.test('the settings of run (daemon/run-options.ts) are exactly what the man page, the docs and --help list', async (t) => {
  const conf = section(man8, 'CONFIGURATION');
  const entries = [...conf.matchAll(/\n\.TP\n\.B ([a-z][a-z-]*)\n/g)].map((m) => m[1] as string);
  t.same(setOf(entries), setOf(CONFIG_KEYS), 'mirror-policyd(8) CONFIGURATION: an entry for each config key, and no other');

  const toml = /```toml\n([\s\S]*?)```/.exec(configurationDoc)?.[1] ?? '';
  t.same(
    setOf([...toml.matchAll(/^(?:# )?([a-z][a-z-]*) = /gm)].map((m) => m[1] as string)),
    setOf(CONFIG_KEYS),
    'docs/configuration.md: the example has every config key',
  );

  const synopsis = /\nmirror-policyd run ([\s\S]*?)\nmirror-policyd status/.exec(commandsDoc)?.[1] ?? '';
  t.same(flagsIn(synopsis), setOf(RUN_FLAGS), 'docs/commands.md: the run synopsis has every flag of run');

  t.same(flagsIn(usage('run')), setOf([...RUN_FLAGS, ...Object.keys(COMMON_OPTIONS).map((k) => `--${k}`)]), 'run --help');
  for (const r of RUN_SETTINGS.filter((r) => r.flag === 'common')) t.ok(Object.hasOwn(COMMON_OPTIONS, r.name), `${r.name}: a flag of every command`);
});

t.test("docs/configuration.md's example: every key at its default (commented out: none), a number's bounds beside it", async (t) => {
  const toml = /```toml\n([\s\S]*?)```/.exec(configurationDoc)?.[1] ?? '';
  const r = resolveConfig({ path: 'docs/configuration.md', text: toml }, {});
  t.same(r.diagnostics.map(formatDiagnostic), [], 'it loads as a config file');
  t.same(r.config, DEFAULTS, 'and changes nothing');
  for (const row of FILE_SETTINGS) {
    const line = new RegExp(`^(# )?${row.name} = (.*)$`, 'm').exec(toml);
    t.equal(line?.[1] === undefined, row.default !== undefined, `${row.name}: commented out exactly when it has no default`);
    if (row.value.type === 'whole') t.match(line?.[2] ?? '', `# ${row.value.min} to ${row.value.max}`, `${row.name}: its bounds`);
  }
});

t.test("mirror-policyd(8) states each setting's default and bounds as run-options.ts has them", async (t) => {
  const conf = section(man8, 'CONFIGURATION').replace(/\s+/g, ' ');
  for (const r of FILE_SETTINGS) {
    const entry = new RegExp(` \\.TP \\.B ${r.name} (.*?)(?= \\.TP |$)`).exec(conf)?.[1] ?? '';
    if (r.value.type === 'whole') t.match(entry, `${r.value.min} to ${r.value.max};`, `${r.name}: its bounds`);
    if (typeof r.default === 'string' && r.value.type === 'string') t.match(entry, r.default, `${r.name}: its default`);
    else if (typeof r.default !== 'object' && r.default !== undefined)
      t.match(entry, new RegExp(`[(;] ?${r.default}\\)`), `${r.name}: its default, last in the parentheses`);
  }
});

t.test('mirror-policyd(8) names every flag of every command', async (t) => {
  for (const cmd of COMMANDS) {
    for (const [flag] of usage(cmd).matchAll(/--[a-z][a-z-]*/g)) {
      const key = flag.slice(2);
      const documented = man8.includes(flag) || (cmd === 'run' && (CONFIG_KEYS as readonly string[]).includes(key));
      t.ok(documented, `${cmd} ${flag}`);
    }
  }
});

t.test('one exit status table: a row for every command, in the man page and docs/commands.md', async (t) => {
  const table = section(man8, 'EXIT STATUS');
  t.match(table, /\.TS\n/);
  for (const cmd of COMMANDS) t.match(table, new RegExp(`\\n${cmd}\\t0\\t`), `man: ${cmd}`);
  t.match(table, /\n\t4\tT\{\ncannot tell/, 'status 4');
  for (const cmd of COMMANDS) t.match(commandsDoc, new RegExp(`\\n\\| ${cmd} \\| `), `docs/commands.md: ${cmd}`);
  t.match(readme, /\]\(docs\/commands\.md\)/, 'the README links to it');
  for (const text of [readme, commandsDoc])
    t.notMatch(text, /Exit codes: 0 done, 1 invalid policy \(nothing written\), 2 usage\s+error\./, 'no partial list left');
});

t.test('the man pages neither hyphenate nor stretch: a flag or a path is copied as one word', async (t) => {
  for (const [name, page] of Object.entries({ 'mirror-policyd.8': man8, 'mirror-policy.d.5': man5 })) {
    const head = page.slice(0, page.indexOf('\n.SH '));
    t.match(head, /^\.nh$/m, `${name}: no hyphenation`);
    t.match(head, /^\.ad l$/m, `${name}: left-adjusted`);
    t.notMatch(page, /\n\.(hy|ad [bn]?)\n/, `${name}: not turned back on`);
  }
});

t.test('the native fragments the man page and docs/policy-formats.md show are valid as they stand (copied, they work)', async (t) => {
  const examples = [
    { where: 'mirror-policy.d(5) NATIVE FORMAT', text: /\n\.SH NATIVE FORMAT\n\.nf\n([\s\S]*?)\n\.fi\n/.exec(man5)?.[1] ?? '' },
    ...[...readFileSync(`${ROOT}docs/policy-formats.md`, 'utf8').matchAll(/```toml\n([\s\S]*?)```/g)].map((m, i) => ({
      where: `docs/policy-formats.md, TOML block ${i + 1}`,
      text: m[1] as string,
    })),
  ];
  t.ok(examples.length >= 3, 'the examples are found');
  for (const { where, text } of examples) {
    t.ok(text.includes('='), `${where}: found`);
    const parsed = parseFragment('50-example.toml', 'toml', text);
    t.same(parsed.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), [], where);
  }
});

t.test("the README's config.toml lines load as a config file", async (t) => {
  const blocks = [...readme.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  t.ok(blocks.length >= 2, 'the examples are found');
  for (const text of blocks) t.same(resolveConfig({ path: 'README.md', text }, {}).diagnostics.map(formatDiagnostic), [], text.split('\n')[0] ?? '');
});

t.test('mirror-policy.d(5) documents every OpenShift kind and every refusal', async (t) => {
  for (const kind of ['ImageContentSourcePolicy', 'ImageDigestMirrorSet', 'ImageTagMirrorSet', 'Image', 'List'])
    t.match(man5, new RegExp(`\\.B ${kind}\\b|kind: List`), kind);
  t.match(man5, /registrySources/);
  t.match(man5, /hard link/);
  t.match(man5, /50000th/);
  t.match(man5, /16 MiB/);
  t.match(man5, /max-fragment-bytes/);
});

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

t.test('every relative link in the README, SECURITY.md, docs/ and the other READMEs resolves (file and #anchor)', async (t) => {
  const pages = [
    'README.md',
    'SECURITY.md',
    'systemd/README.md',
    'packaging/README.md',
    ...readdirSync(`${ROOT}docs`)
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  t.ok(pages.length >= 13, 'README, SECURITY.md, the other READMEs and the docs/ pages are read');
  for (const page of pages) {
    const text = readFileSync(`${ROOT}${page}`, 'utf8')
      .replace(/```[\s\S]*?```/g, '')
      .replace(/`[^`\n]*`/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const [file, anchor] = (target as string).split('#') as [string, string | undefined];
      const path = file === '' ? page : posix.normalize(posix.join(posix.dirname(page), file));
      t.ok(existsSync(`${ROOT}${path}`), `${page}: ${target} exists`);
      if (anchor !== undefined && path.endsWith('.md') && existsSync(`${ROOT}${path}`)) {
        const anchors = [
          ...readFileSync(`${ROOT}${path}`, 'utf8')
            .replace(/```[\s\S]*?```/g, '')
            .matchAll(/^#+ (.*)$/gm),
        ].map((m) => anchorOf(m[1] as string));
        t.ok(anchors.includes(anchor), `${page}: ${target} names a heading`);
      }
    }
  }
});

t.test('every "docs/registries-semantics.md §N" cited in src/ and test/ names a section of it', async (t) => {
  const reference = readFileSync(`${ROOT}docs/registries-semantics.md`, 'utf8');
  const sections = new Set([...reference.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]));
  const sources = ['src', 'test'].flatMap((dir) =>
    readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `${dir}/${f}`),
  );
  let cited = 0;
  for (const file of sources) {
    for (const [citation] of readFileSync(`${ROOT}${file}`, 'utf8').matchAll(/registries-semantics\.md[^\n]*/g)) {
      for (const [, number] of citation.matchAll(/§(\d+(?:\.\d+)?)/g)) {
        cited++;
        t.ok(sections.has(number), `${file}: §${number}`);
      }
    }
  }
  t.ok(cited >= 8, 'the citations are found');
});

t.test('every test file the docs name exists (tests move; the docs that cite them as proof must follow; the CHANGELOG is history)', async (t) => {
  const docs = ['README.md', 'SECURITY.md', 'systemd/README.md', 'packaging/README.md', ...readdirSync(`${ROOT}docs`).map((f) => `docs/${f}`)].filter((f) =>
    f.endsWith('.md'),
  );
  const named = docs.flatMap((doc) =>
    [...readFileSync(`${ROOT}${doc}`, 'utf8').matchAll(/\btest\/[A-Za-z0-9/._-]+\.test\.ts\b/g)].map((m) => ({ doc, file: m[0] })),
  );
  t.ok(named.length > 20, `the docs name ${named.length} test files`);
  t.strictSame(
    named.filter(({ file }) => !existsSync(`${ROOT}${file}`)),
    [],
    'none missing',
  );
});
