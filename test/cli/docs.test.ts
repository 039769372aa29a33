/**
 * The man pages and the README say what the program does: every config key, every flag of
 * every command, an exit status for every command, every OpenShift kind, every refusal.
 * (The texts are read as they ship; `\-` in roff is a plain `-`.)
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CONFIG_KEYS } from '../../src/daemon/config.js';
import { usage } from '../../src/cli/usage.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const roff = (name: string): string => readFileSync(`${ROOT}packaging/man/${name}`, 'utf8').replace(/\\-/g, '-').replace(/\\\(dq/g, '"');
const man8 = roff('mirror-policyd.8');
const man5 = roff('mirror-policy.d.5');
const readme = readFileSync(`${ROOT}README.md`, 'utf8');

const COMMANDS = [...usage().matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string);

function section(text: string, name: string): string {
  const start = text.indexOf(`\n.SH ${name}\n`);
  const end = text.indexOf('\n.SH ', start + 1);
  return start < 0 ? '' : text.slice(start, end < 0 ? undefined : end);
}

t.test('the commands are known', async (t) => {
  t.same(COMMANDS, ['check', 'render', 'import', 'run', 'status', 'restore', 'resolve', 'pull']);
});

t.test('mirror-policyd(8) documents every config key, with its own entry', async (t) => {
  const conf = section(man8, 'CONFIGURATION');
  for (const key of CONFIG_KEYS) t.match(conf, new RegExp(`\\n\\.TP\\n\\.B ${key}\\n`), key);
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

t.test('one exit status table: a row for every command, in the man page and the README', async (t) => {
  const table = section(man8, 'EXIT STATUS');
  t.match(table, /\.TS\n/);
  for (const cmd of COMMANDS) t.match(table, new RegExp(`\\n${cmd}\\t0\\t`), `man: ${cmd}`);
  t.match(table, /\n\t4\tT\{\ncannot tell/, 'status 4');
  for (const cmd of COMMANDS) t.match(readme, new RegExp(`\\n\\| ${cmd} \\| `), `README: ${cmd}`);
  t.notMatch(readme, /Exit codes: 0 done, 1 invalid policy \(nothing written\), 2 usage\s+error\./, 'no partial list left');
});

t.test('mirror-policy.d(5) documents every OpenShift kind and every refusal', async (t) => {
  for (const kind of ['ImageContentSourcePolicy', 'ImageDigestMirrorSet', 'ImageTagMirrorSet', 'Image', 'List']) t.match(man5, new RegExp(`\\.B ${kind}\\b|kind: List`), kind);
  t.match(man5, /registrySources/);
  t.match(man5, /hard link/);
  t.match(man5, /50000th/);
  t.match(man5, /1 MiB/);
});
