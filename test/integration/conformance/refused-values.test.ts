/**
 * The values we refuse are values the real consumer refuses, and the values we accept load in it.
 * skopeo 1.9.3 (containers/image 5.23) reads each hand-written registries.conf; no registry is
 * needed: a load or rewrite error comes before any connection, and an accepted file gets as far as
 * dialling 127.0.0.1:1 (nothing listens there), which is the witness that it loaded.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDiagnostic } from '../../../src/core/diagnostic.js';
import { buildRegistriesConf } from '../../../src/pipeline/strict.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-refused-'));
/** Nothing listens on port 1: reaching it means the configuration was loaded and the rewrite worked. */
const HOST = '127.0.0.1:1';
const REF = `docker://${HOST}/ns/app:latest`;
const LOADED = /pinging container registry 127\.0\.0\.1:1|connection refused/;
/** The table the pull goes through, so that mirrors are rewritten for it. */
const table = (mirror: string): string =>
  `[[registry]]\nlocation = "${HOST}/ns"\ninsecure = true\n[[registry.mirror]]\nlocation = "${mirror}"\ninsecure = true\n`;

let n = 0;
async function skopeoWith(conf: string): Promise<{ code: number; stderr: string }> {
  const file = join(work, `${n++}.conf`);
  writeFileSync(file, conf);
  const r = await skopeoInspectRaw(REF, { registriesConf: file, timeoutMs: 30_000 });
  return { code: r.code, stderr: r.stderr.replaceAll('\\"', '"') }; // logrus writes msg="... \"x\" ..."
}

interface Case {
  readonly what: string;
  /** registries.conf content, as a native fragment and as skopeo's file. */
  readonly conf: string;
  /** How skopeo fails on it. */
  readonly skopeo: RegExp;
  /** Our error. */
  readonly ours: RegExp;
}

const LONG_HOST = `mirror.example/${'a'.repeat(245)}`;

const refused: Case[] = [
  {
    what: 'an alias to an IPv6 host',
    conf: '[aliases]\n"a" = "[::1]:5000/a"\n',
    skopeo: /loading registries configuration.*parsing alias "\[::1\]:5000\/a": invalid reference format/,
    ours: /invalid alias "a" = "\[::1\]:5000\/a": invalid reference format/,
  },
  {
    what: 'an IPv6 search registry',
    conf: 'unqualified-search-registries = ["[::1]:5000"]\n',
    skopeo: /Invalid unqualified-search-registries entry "\[::1\]:5000"/,
    ours: /Invalid unqualified-search-registries entry "\[::1\]:5000"/,
  },
  {
    what: 'an IPv6 mirror host',
    conf: table('[::1]:5000/m'),
    skopeo: /rewriting reference: invalid reference format/,
    ours: /"\[::1\]:5000\/m" cannot serve images of "127\.0\.0\.1:1\/ns".*invalid reference format/,
  },
  {
    what: 'an IPv6 registry location',
    conf: `[[registry]]\nprefix = "${HOST}/ns"\nlocation = "[::1]:5000/ns"\n`,
    skopeo: /rewriting reference: invalid reference format/,
    ours: /"\[::1\]:5000\/ns" cannot serve images of "127\.0\.0\.1:1\/ns".*invalid reference format/,
  },
  {
    what: 'a mirror whose names exceed 255 characters with their domain',
    conf: table(LONG_HOST),
    skopeo: /rewriting reference: .*must not be more than 255 characters/,
    ours: /cannot serve images of .*must not be more than 255 characters/,
  },
  {
    what: 'an alias with an uppercase registry-less first component',
    conf: '[aliases]\n"a" = "Example/app"\n',
    skopeo: /loading registries configuration.*parsing alias|must contain registry/,
    ours: /invalid alias "a" = "Example\/app"/,
  },
  {
    what: 'an alias whose first part has a "." and a "_" (no domain by the grammar: the whole name is a path)',
    conf: '[aliases]\n"a" = "build_server.corp/app"\n',
    skopeo: /invalid alias "build_server\.corp\/app": must contain registry and repository/,
    ours: /invalid alias "a" = "build_server\.corp\/app": must contain registry and repository/,
  },
];

for (const c of refused) {
  t.test(`refused: ${c.what}`, async (t) => {
    const r = buildRegistriesConf({ fragments: [{ file: 'a.toml', text: c.conf }] });
    t.equal(r.text, undefined, 'we render nothing');
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    t.ok(
      errors.some((d) => c.ours.test(d.message) && d.file === 'a.toml' && (d.line ?? 0) >= 1),
      `a located error matches ${c.ours}: ${errors.map(formatDiagnostic).join(' | ')}`,
    );
    const s = await skopeoWith(c.conf);
    t.not(s.code, 0, 'skopeo fails too');
    t.match(s.stderr, c.skopeo, 'for the same reason');
    t.notMatch(s.stderr, LOADED, 'before any connection');
  });
}

const accepted: ReadonlyArray<{ what: string; conf: string }> = [
  { what: 'an alias to a host:port registry', conf: '[aliases]\n"a" = "127.0.0.1:1/ns/a"\n"b" = "localhost/b"\n"c" = "Registry.Example:5000/c"\n' },
  { what: 'search registries with ports and uppercase hosts', conf: 'unqualified-search-registries = ["127.0.0.1:1", "localhost:5000", "Registry.Example"]\n' },
  { what: 'an IPv4 mirror with a port and a path', conf: table('127.0.0.1:2/mirrored/ns') },
  { what: 'credential helpers by name', conf: `credential-helpers = ["containers-auth.json"]\n${table('127.0.0.1:2/m')}` },
  { what: 'a short name whose first part has a "." and a "_" (a path, not a registry)', conf: '[aliases]\n"build_server.corp/app" = "127.0.0.1:1/ns/app"\n' },
];

for (const c of accepted) {
  t.test(`accepted and loaded: ${c.what}`, async (t) => {
    const r = buildRegistriesConf({ fragments: [{ file: 'a.toml', text: c.conf }] });
    t.same(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), [], 'no error');
    t.ok(r.text, 'rendered');
    const s = await skopeoWith(r.text ?? '');
    t.match(s.stderr, LOADED, `skopeo loads our file and dials the registry: ${s.stderr.slice(-300)}`);
    t.notMatch(s.stderr, /loading registries configuration|rewriting reference/, 'no load or rewrite error');
  });
}

// containers/image does not refuse these at load time: it runs "docker-credential-NAME" when it looks
// up credentials, so a name with "/" is a path relative to the puller's working directory.
t.test('credential helpers: each refused name is one skopeo would run as a path or cannot find', async (t) => {
  for (const name of ['../../tmp/x', 'a/b', 'a\nb', '', 'two words']) {
    const text = `\ncredential-helpers = [${JSON.stringify(name)}]\n`;
    const r = buildRegistriesConf({ fragments: [{ file: 'h.toml', text }] });
    t.equal(r.text, undefined, `${JSON.stringify(name)}: nothing rendered`);
    const hit = r.diagnostics.find((d) => /invalid credential helper/.test(d.message));
    t.ok(hit && hit.file === 'h.toml' && hit.line === 2, `${JSON.stringify(name)}: located error: ${r.diagnostics.map(formatDiagnostic).join(' | ')}`);
    const s = await skopeoWith(text);
    t.not(s.code, 0, `${JSON.stringify(name)}: skopeo fails the pull`);
    t.match(s.stderr, /error getting credentials|docker-credential-/, 'trying to run the helper');
  }
  const s = await skopeoWith('credential-helpers = ["../../tmp/x"]\n');
  t.match(s.stderr, /fork\/exec docker-credential-\.\.\/\.\.\/tmp\/x/, 'a name with "/" is run as a relative path, not looked up in PATH');
});

t.test('additional-layer-store-auth-helper: a name or an absolute path', async (t) => {
  for (const ok of ['stargz-store-helper', '/usr/local/bin/stargz-store-helper']) {
    const r = buildRegistriesConf({ fragments: [{ file: 'h.toml', text: `additional-layer-store-auth-helper = ${JSON.stringify(ok)}\n` }] });
    t.ok(r.text, `${ok} is accepted`);
  }
  for (const bad of ['../../etc/x', 'bin/helper', '/usr/../bin/x', 'a\u0000b', 'a\nb', ' helper']) {
    const r = buildRegistriesConf({ fragments: [{ file: 'h.toml', text: `\nadditional-layer-store-auth-helper = ${JSON.stringify(bad)}\n` }] });
    t.equal(r.text, undefined, `${JSON.stringify(bad)} is refused`);
    const hit = r.diagnostics.find((d) => /invalid additional-layer-store-auth-helper/.test(d.message));
    t.ok(hit && hit.line === 2, `${JSON.stringify(bad)}: located error`);
  }
});

t.test('a fragment named with U+FFFD: the header names it escaped, and skopeo (BurntSushi/toml 1.2) loads the file', async (t) => {
  const r = buildRegistriesConf({ fragments: [{ file: 'mirror-\uFFFD.toml', text: table('127.0.0.1:2/m') }] });
  t.ok(r.text, 'rendered');
  t.notOk(r.text?.includes('\uFFFD'), 'no U+FFFD written as it is');
  t.match(r.text, 'mirror-\\uFFFD.toml');
  const s = await skopeoWith(r.text ?? '');
  t.match(s.stderr, LOADED, `skopeo loads it: ${s.stderr.slice(-300)}`);
});
