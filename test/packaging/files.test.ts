/**
 * The files the packages install, checked against the program they go with (no build
 * needed): the example config.toml documents real keys with their real defaults, and
 * loads once uncommented; the tmpfiles.d entry creates what the unit and the daemon need;
 * the unit's writable paths match the defaults of the daemon.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, DEFAULTS, resolveConfig } from '../../src/daemon/config.js';
import { REPO_ROOT } from '../helpers/repo.js';

const ROOT = REPO_ROOT;
const CONFIG = readFileSync(join(ROOT, 'packaging/files/config.toml'), 'utf8');

/** The example's `#key = value` lines, uncommented. */
function uncommented(text: string): string {
  return text
    .split('\n')
    .filter((l) => /^#[a-z][a-z-]* = /.test(l))
    .map((l) => l.slice(1))
    .join('\n');
}

t.test('config.toml: as shipped, every setting is commented out and the defaults apply', async (t) => {
  const r = resolveConfig({ path: 'config.toml', text: CONFIG }, {});
  t.same(r.diagnostics, [], 'loads without a diagnostic');
  t.same(r.config, DEFAULTS, 'gives exactly the defaults');
});

t.test('config.toml: every documented key is real, loads uncommented, and shows its default', async (t) => {
  const text = uncommented(CONFIG);
  const keys = text.split('\n').map((l) => l.slice(0, l.indexOf(' =')));
  t.ok(keys.length >= 10, `${keys.length} documented settings`);
  for (const k of keys) t.ok((CONFIG_KEYS as readonly string[]).includes(k), `${k} is a config key of the daemon`);
  const r = resolveConfig({ path: 'config.toml', text }, {});
  t.same(r.diagnostics, [], 'uncommented, it loads without a diagnostic');
  const c = r.config;
  t.ok(c, 'a config');
  if (!c) return;
  t.equal(c.policyDir, DEFAULTS.policyDir);
  t.equal(c.output, DEFAULTS.output);
  t.equal(c.stateDir, DEFAULTS.stateDir);
  t.equal(c.controlSocket, DEFAULTS.controlSocket);
  t.equal(c.debounceMs, DEFAULTS.debounceMs);
  t.equal(c.rescanIntervalMs, DEFAULTS.rescanIntervalMs);
  t.equal(c.probeIntervalMs, DEFAULTS.probeIntervalMs);
  t.equal(c.afterRenderTimeoutMs, DEFAULTS.afterRenderTimeoutMs);
  t.equal(c.logLevel, DEFAULTS.logLevel);
  t.equal(c.logFormat, DEFAULTS.logFormat);
  t.same(c.afterRender, [['/usr/bin/systemctl', 'try-reload-or-restart', 'crio.service']], 'the CRI-O reload example');
});

t.test('tmpfiles.d and the unit agree with the daemon defaults', async (t) => {
  const tmpfiles = readFileSync(join(ROOT, 'packaging/files/tmpfiles.conf'), 'utf8');
  const unit = readFileSync(join(ROOT, 'systemd/mirror-policyd.service'), 'utf8');
  const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/'));
  t.match(tmpfiles, new RegExp(`^d ${DEFAULTS.stateDir} 0700 root root -$`, 'm'), 'the state dir');
  t.match(tmpfiles, new RegExp(`^d ${dirOf(DEFAULTS.controlSocket)} 0700 root root -$`, 'm'), "the control socket's dir");
  t.match(tmpfiles, new RegExp(`^d ${dirOf(DEFAULTS.output)} - - - -$`, 'm'), "the output's dir (needed for ReadWritePaths=), an existing one left as it is");
  t.match(unit, new RegExp(`^ReadWritePaths=-${dirOf(DEFAULTS.output)}$`, 'm'), "the unit may write the output's dir");
  t.match(unit, new RegExp(`^StateDirectory=${DEFAULTS.stateDir.replace('/var/lib/', '')}$`, 'm'));
  t.match(unit, new RegExp(`^RuntimeDirectory=${dirOf(DEFAULTS.controlSocket).replace('/run/', '')}$`, 'm'));
});
