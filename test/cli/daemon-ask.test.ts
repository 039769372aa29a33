/**
 * Which control socket `status` and `reload` ask (controlSocketFor): the flag, else the
 * `control-socket` of the config file the daemon reads, else the default, with a warning when
 * the file cannot be read or parsed.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlSocketFor, socketOrigin } from '../../src/cli/daemon-ask.js';
import { DEFAULT_CONTROL_SOCKET } from '../../src/control/protocol.js';

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-ask-'));
  const path = join(dir, 'config.toml');
  writeFileSync(path, text);
  return path;
}

async function socketOf(values: { config?: string; 'control-socket'?: string }): Promise<{ path: string; namedIn?: string; warnings: string[] }> {
  const warnings: string[] = [];
  const r = await controlSocketFor(values, (line) => warnings.push(line));
  return { ...r, warnings };
}

t.test('the flag wins over the config file', async (t) => {
  const config = configFile('control-socket = "/run/x/from-file.sock"\n');
  const r = await socketOf({ config, 'control-socket': '/tmp/flag.sock' });
  t.equal(r.path, '/tmp/flag.sock');
  t.equal(r.namedIn, undefined);
  t.same(r.warnings, []);
});

t.test('the config file names the socket when no flag does', async (t) => {
  const config = configFile('# the host operator moved it\ncontrol-socket = "/run/x/from-file.sock"\n');
  const r = await socketOf({ config });
  t.equal(r.path, '/run/x/from-file.sock');
  t.equal(r.namedIn, config);
  t.match(socketOrigin(r), `the control-socket set in ${config}`);
  t.same(r.warnings, []);
});

t.test('a mistake elsewhere in the file does not hide its control-socket (the daemon reports the mistake)', async (t) => {
  const config = configFile('debounce-ms = "100"\nno-such-key = 1\ncontrol-socket = "/run/x/s.sock"\n');
  const r = await socketOf({ config });
  t.equal(r.path, '/run/x/s.sock');
  t.same(r.warnings, []);
});

t.test('a file without control-socket: the default, nothing said', async (t) => {
  const r = await socketOf({ config: configFile('debounce-ms = 100\n') });
  t.equal(r.path, DEFAULT_CONTROL_SOCKET);
  t.equal(r.namedIn, undefined);
  t.equal(socketOrigin(r), '');
  t.same(r.warnings, []);
});

t.test('a file that does not parse: the default, and a warning naming the file and line', async (t) => {
  const config = configFile('debounce-ms = 100\ncontrol-socket = "/run/x/s.sock\n');
  const r = await socketOf({ config });
  t.equal(r.path, DEFAULT_CONTROL_SOCKET);
  t.equal(r.warnings.length, 1);
  t.match(r.warnings[0], `${config}:2`);
  t.match(r.warnings[0], `asking the default control socket ${DEFAULT_CONTROL_SOCKET}`);
});

t.test('a --config that cannot be read: the default, and a warning naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-ask-'));
  for (const config of [join(dir, 'absent.toml'), join(dir, 'a-dir')]) {
    if (config.endsWith('a-dir')) mkdirSync(config);
    const r = await socketOf({ config });
    t.equal(r.path, DEFAULT_CONTROL_SOCKET, config);
    t.equal(r.warnings.length, 1, config);
    t.match(r.warnings[0], `${config}: cannot read config file`);
  }
});
