/**
 * resolveConfig (src/daemon/config.ts): defaults, the config file, flags over it, and
 * every invalid value located (FILE:LINE:COL for the file, --flag for flags).
 */
import t from 'tap';
import { formatDiagnostic } from '../../src/core/diagnostic.js';
import { keepStartOnly } from '../../src/daemon/run-options.js';
import { CONFIG_KEYS, DEFAULTS, parseLocalMirrorAddress, resolveConfig, type ConfigValues, type DaemonConfig } from '../../src/daemon/config.js';

const FILE = '/etc/mirror-policyd/config.toml';
const file = (text: string): { path: string; text: string } => ({ path: FILE, text });
const messages = (r: { diagnostics: Parameters<typeof formatDiagnostic>[0][] }): string[] => r.diagnostics.map(formatDiagnostic);

t.test('no file, no flags: the documented defaults', async (t) => {
  const r = resolveConfig(undefined, {});
  t.same(r.diagnostics, []);
  t.same(r.config, DEFAULTS);
  t.same(r.config, {
    policyDir: '/etc/mirror-policy.d',
    output: '/etc/containers/registries.conf',
    stateDir: '/var/lib/mirror-policyd',
    controlSocket: '/run/mirror-policyd/control.sock',
    debounceMs: 100,
    rescanIntervalMs: 30_000,
    probeIntervalMs: 10_000,
    probeTimeoutMs: 3000,
    healthAwareOrder: false,
    hysteresis: { demoteAfter: 3, restoreAfter: 2, minDwellMs: 30_000, maxRewritesPerMinute: 6 },
    afterRender: [],
    afterRenderTimeoutMs: 30_000,
    allowUnsafeFragments: false,
    maxFragmentBytes: 16 * 1024 * 1024,
    logLevel: 'info',
    logFormat: 'pretty',
    localMirrorCredentials: false,
    localMirrorAllowNonLoopback: false,
    containerdConfig: '/etc/containerd/config.toml',
  } satisfies DaemonConfig);
  t.equal(r.config?.base, undefined, 'no base unless one is given');
  t.same(resolveConfig(file(''), {}).config, DEFAULTS, 'an empty file is all defaults');
  t.same(resolveConfig(file('# only a comment\n'), {}).config, DEFAULTS);
});

const FULL = `# every key
policy-dir = "/srv/policy.d"
output = "/srv/out/registries.conf"
base = "/srv/base.conf"
state-dir = "/srv/state"
control-socket = "/srv/control.sock"
debounce-ms = 250
rescan-interval-ms = 5000
probe-interval-ms = 2000
probe-timeout-ms = 1500
health-aware-order = true
demote-after = 4
restore-after = 3
min-dwell-ms = 60000
max-rewrites-per-minute = 2
metrics-file = "/srv/metrics/mirror-policyd.prom"
after-render = [["/usr/bin/systemctl", "reload", "crio.service"], ["/bin/true"]]
after-render-timeout-ms = 1000
allow-unsafe-fragments = true
max-fragment-bytes = 4194304
log-level = "debug"
log-format = "json"
`;

t.test('every key from the file', async (t) => {
  const r = resolveConfig(file(FULL), {});
  t.same(messages(r), []);
  t.same(r.config, {
    policyDir: '/srv/policy.d',
    output: '/srv/out/registries.conf',
    base: '/srv/base.conf',
    stateDir: '/srv/state',
    controlSocket: '/srv/control.sock',
    debounceMs: 250,
    rescanIntervalMs: 5000,
    probeIntervalMs: 2000,
    probeTimeoutMs: 1500,
    healthAwareOrder: true,
    hysteresis: { demoteAfter: 4, restoreAfter: 3, minDwellMs: 60_000, maxRewritesPerMinute: 2 },
    metricsFile: '/srv/metrics/mirror-policyd.prom',
    afterRender: [['/usr/bin/systemctl', 'reload', 'crio.service'], ['/bin/true']],
    afterRenderTimeoutMs: 1000,
    allowUnsafeFragments: true,
    maxFragmentBytes: 4_194_304,
    logLevel: 'debug',
    logFormat: 'json',
    localMirrorCredentials: false,
    localMirrorAllowNonLoopback: false,
    containerdConfig: '/etc/containerd/config.toml',
  } satisfies DaemonConfig);
});

t.test('flags win over the file, key by key; the rest comes from the file or the defaults', async (t) => {
  const flags: ConfigValues = { 'policy-dir': '/flag/policy.d', 'debounce-ms': '7', 'log-level': 'warn', 'allow-unsafe-fragments': false };
  const r = resolveConfig(file(FULL), flags);
  t.same(messages(r), []);
  t.equal(r.config?.policyDir, '/flag/policy.d');
  t.equal(r.config?.debounceMs, 7, 'a flag is a string of digits');
  t.equal(r.config?.logLevel, 'warn');
  t.equal(r.config?.allowUnsafeFragments, false);
  t.equal(r.config?.output, '/srv/out/registries.conf', 'from the file');
  t.equal(r.config?.logFormat, 'json', 'from the file');

  const partial = resolveConfig(file('output = "/o/registries.conf"\n'), { 'state-dir': '/s' });
  t.same(partial.config, { ...DEFAULTS, output: '/o/registries.conf', stateDir: '/s' });

  t.same(
    resolveConfig(undefined, { 'rescan-interval-ms': '100', 'after-render-timeout-ms': '600000', 'debounce-ms': '0' }).config,
    {
      ...DEFAULTS,
      rescanIntervalMs: 100,
      afterRenderTimeoutMs: 600_000,
      debounceMs: 0,
    },
    'the bounds themselves are allowed',
  );
});

t.test('a flag makes an invalid file value irrelevant; an invalid flag is named as --flag', async (t) => {
  t.same(messages(resolveConfig(file('debounce-ms = -5\n'), { 'debounce-ms': '10' })), []);
  const r = resolveConfig(file('debounce-ms = 10\n'), { 'debounce-ms': 'soon' });
  t.same(messages(r), ['--debounce-ms: "debounce-ms" must be a whole number from 0 to 60000, not "soon"']);
  t.equal(r.config, undefined);
});

// [file text, flags, expected messages] — every invalid value, located.
const INVALID: Array<[string, string, ConfigValues, string[]]> = [
  ['a string key given a number', 'policy-dir = 5\n', {}, [`${FILE}:1:1: "policy-dir" must be a non-empty string, not a number`]],
  ['an empty string', 'output = ""\n', {}, [`${FILE}:1:1: "output" must be a non-empty string, not an empty string`]],
  ['a table for a string', 'log-format = "json"\n[state-dir]\nx = 1\n', {}, [`${FILE}:2:1: "state-dir" must be a non-empty string, not a table`]],
  ['a boolean for a string', 'base = true\n', {}, [`${FILE}:1:1: "base" must be a non-empty string, not a boolean`]],
  ['an array for a string', 'control-socket = ["/a"]\n', {}, [`${FILE}:1:1: "control-socket" must be a non-empty string, not an array`]],
  ['a negative number', '\n\ndebounce-ms = -1\n', {}, [`${FILE}:3:1: "debounce-ms" must be a whole number from 0 to 60000, not -1`]],
  ['above the maximum', 'debounce-ms = 60001\n', {}, [`${FILE}:1:1: "debounce-ms" must be a whole number from 0 to 60000, not 60001`]],
  ['a fraction', 'rescan-interval-ms = 1000.5\n', {}, [`${FILE}:1:1: "rescan-interval-ms" must be a whole number from 100 to 86400000, not 1000.5`]],
  ['below the minimum', 'rescan-interval-ms = 99\n', {}, [`${FILE}:1:1: "rescan-interval-ms" must be a whole number from 100 to 86400000, not 99`]],
  ['infinity', 'after-render-timeout-ms = inf\n', {}, [`${FILE}:1:1: "after-render-timeout-ms" must be a whole number from 100 to 600000, not Infinity`]],
  ['not a number', 'after-render-timeout-ms = nan\n', {}, [`${FILE}:1:1: "after-render-timeout-ms" must be a whole number from 100 to 600000, not NaN`]],
  ['a boolean for a number', 'debounce-ms = true\n', {}, [`${FILE}:1:1: "debounce-ms" must be a whole number from 0 to 60000, not true`]],
  [
    'a quoted number in the file',
    'debounce-ms = "100"\n',
    {},
    [`${FILE}:1:1: "debounce-ms" must be a whole number from 0 to 60000, not "100" (a TOML number has no quotes: debounce-ms = 100)`],
  ],
  ['a fragment cap of 0', 'max-fragment-bytes = 0\n', {}, [`${FILE}:1:1: "max-fragment-bytes" must be a whole number from 1 to 268435456, not 0`]],
  ['a string for a boolean', 'allow-unsafe-fragments = "yes"\n', {}, [`${FILE}:1:1: "allow-unsafe-fragments" must be true or false`]],
  ['an unknown log level', 'log-level = "loud"\n', {}, [`${FILE}:1:1: "log-level" must be one of trace, debug, info, warn, error, fatal, silent`]],
  ['an unknown log format', 'log-format = "xml"\n', {}, [`${FILE}:1:1: "log-format" must be pretty or json`]],
  [
    'after-render a string',
    'after-render = "systemctl reload crio"\n',
    {},
    [`${FILE}:1:1: "after-render" must be an array of commands, each an array of strings: [["/usr/bin/systemctl", "try-reload-or-restart", "crio.service"]]`],
  ],
  [
    'after-render a flat array',
    'after-render = ["systemctl", "reload"]\n',
    {},
    [`${FILE}:1:1: "after-render" must be an array of commands, each an array of strings: [["/usr/bin/systemctl", "try-reload-or-restart", "crio.service"]]`],
  ],
  [
    'after-render with an empty command',
    'after-render = [["/bin/true"], []]\n',
    {},
    [`${FILE}:1:1: "after-render" must be an array of commands, each an array of strings: [["/usr/bin/systemctl", "try-reload-or-restart", "crio.service"]]`],
  ],
  [
    'after-render with a number',
    'after-render = [["/bin/sleep", 1]]\n',
    {},
    [`${FILE}:1:1: "after-render" must be an array of commands, each an array of strings: [["/usr/bin/systemctl", "try-reload-or-restart", "crio.service"]]`],
  ],
  [
    'an unknown key (a typo)',
    'output = "/o"\npolicy_dir = "/p"\n',
    {},
    [`${FILE}:2:1: unknown key "policy_dir" in the config file; did you mean "policy-dir"?; known keys: ${CONFIG_KEYS.join(', ')}`],
  ],
  [
    'the config key itself is not a config-file key',
    'config = "/other.toml"\n',
    {},
    [`${FILE}:1:1: unknown key "config" in the config file; known keys: ${CONFIG_KEYS.join(', ')}`],
  ],
  ['invalid TOML', 'output = "/o"\ndebounce-ms = \n', {}, [`${FILE}:2:15: invalid TOML: invalid value`]],
  ['an integer TOML cannot hold', 'debounce-ms = 99999999999999999999\n', {}, [`${FILE}:1:15: invalid TOML: integer value cannot be represented losslessly`]],
  ['a flag: empty', '', { 'policy-dir': '' }, ['--policy-dir: "policy-dir" must be a non-empty string, not an empty string']],
  ['a flag: negative', '', { 'debounce-ms': '-1' }, ['--debounce-ms: "debounce-ms" must be a whole number from 0 to 60000, not "-1"']],
  [
    'a flag: a unit',
    '',
    { 'rescan-interval-ms': '30s' },
    ['--rescan-interval-ms: "rescan-interval-ms" must be a whole number from 100 to 86400000, not "30s"'],
  ],
  [
    'a flag: too large',
    '',
    { 'rescan-interval-ms': '86400001' },
    ['--rescan-interval-ms: "rescan-interval-ms" must be a whole number from 100 to 86400000, not "86400001"'],
  ],
  ['a flag: log level', '', { 'log-level': 'INFO' }, ['--log-level: "log-level" must be one of trace, debug, info, warn, error, fatal, silent']],
  ['a flag: log format', '', { 'log-format': 'text' }, ['--log-format: "log-format" must be pretty or json']],
  ['health-aware-order a string', 'health-aware-order = "yes"\n', {}, [`${FILE}:1:1: "health-aware-order" must be true or false`]],
  [
    'health-aware-order without probes',
    'health-aware-order = true\nprobe-interval-ms = 0\n',
    {},
    [`${FILE}:1:1: "health-aware-order" needs the background probes: "probe-interval-ms" must not be 0`],
  ],
  [
    'health-aware-order from the file, probes off by flag',
    'health-aware-order = true\n',
    { 'probe-interval-ms': '0' },
    [`${FILE}:1:1: "health-aware-order" needs the background probes: "probe-interval-ms" must not be 0`],
  ],
  ['demote-after zero', 'demote-after = 0\n', {}, [`${FILE}:1:1: "demote-after" must be a whole number from 1 to 1000, not 0`]],
  ['restore-after a fraction', '\nrestore-after = 1.5\n', {}, [`${FILE}:2:1: "restore-after" must be a whole number from 1 to 1000, not 1.5`]],
  ['min-dwell-ms negative', 'min-dwell-ms = -1\n', {}, [`${FILE}:1:1: "min-dwell-ms" must be a whole number from 0 to 86400000, not -1`]],
  ['max-rewrites-per-minute zero', 'max-rewrites-per-minute = 0\n', {}, [`${FILE}:1:1: "max-rewrites-per-minute" must be a whole number from 1 to 600, not 0`]],
  ['probe-timeout-ms too short', 'probe-timeout-ms = 10\n', {}, [`${FILE}:1:1: "probe-timeout-ms" must be a whole number from 100 to 60000, not 10`]],
  ['metrics-file empty', 'metrics-file = ""\n', {}, [`${FILE}:1:1: "metrics-file" must be a non-empty string, not an empty string`]],
  ['a flag: demote-after', '', { 'demote-after': 'three' }, ['--demote-after: "demote-after" must be a whole number from 1 to 1000, not "three"']],
];

t.test('every invalid value is refused and located', async (t) => {
  for (const [name, text, flags, expected] of INVALID) {
    const r = resolveConfig(file(text), flags);
    t.same(messages(r), expected, name);
    t.equal(r.config, undefined, `${name}: no config`);
    t.ok(
      r.diagnostics.every((d) => d.severity === 'error'),
      `${name}: errors, not warnings`,
    );
  }
});

t.test('flags alone (no config file) are located as flags too', async (t) => {
  t.same(messages(resolveConfig(undefined, { 'debounce-ms': 'x', output: '' })), [
    '--output: "output" must be a non-empty string, not an empty string',
    '--debounce-ms: "debounce-ms" must be a whole number from 0 to 60000, not "x"',
  ]);
});

t.test('several problems are all reported at once, file and flags mixed', async (t) => {
  const text = 'policy-dir = 1\nbogus = 2\nlog-level = "loud"\ndebounce-ms = 5\n';
  const r = resolveConfig(file(text), { 'debounce-ms': 'never', output: '/ok' });
  t.same(
    messages(r).sort(),
    [
      `${FILE}:1:1: "policy-dir" must be a non-empty string, not a number`,
      `${FILE}:2:1: unknown key "bogus" in the config file; known keys: ${CONFIG_KEYS.join(', ')}`,
      `${FILE}:3:1: "log-level" must be one of trace, debug, info, warn, error, fatal, silent`,
      '--debounce-ms: "debounce-ms" must be a whole number from 0 to 60000, not "never"',
    ].sort(),
  );
  t.equal(r.config, undefined);
});

t.test('after-render: the accepted shape, kept as argv arrays (no shell)', async (t) => {
  const cases: Array<[string, string[][]]> = [
    ['after-render = []\n', []],
    ['after-render = [["/usr/bin/systemctl", "reload", "crio.service"]]\n', [['/usr/bin/systemctl', 'reload', 'crio.service']]],
    ['after-render = [["/bin/sh", "-c", "echo $HOME; rm -rf /"]]\n', [['/bin/sh', '-c', 'echo $HOME; rm -rf /']]],
    ['after-render = [\n  ["/a"],\n  ["/b", "x y"],\n]\n', [['/a'], ['/b', 'x y']]],
  ];
  for (const [text, expected] of cases) {
    const r = resolveConfig(file(text), {});
    t.same(messages(r), [], text);
    t.same(r.config?.afterRender, expected, text);
  }
});

t.test('resolving is pure: the same inputs give equal results, and inputs are not changed', async (t) => {
  const flags: ConfigValues = { 'debounce-ms': '20' };
  const a = resolveConfig(file(FULL), flags);
  const b = resolveConfig(file(FULL), flags);
  t.same(a, b);
  t.same(flags, { 'debounce-ms': '20' });
  t.same(DEFAULTS.afterRender, [], 'the defaults are not changed by a resolved config');
});

t.test('local-mirror: off by default; a loopback address on, with credentials off unless set', async (t) => {
  t.equal(resolveConfig(undefined, {}).config?.localMirror, undefined, 'off by default');
  const on = resolveConfig(file('local-mirror = "127.0.0.1:5050"\n'), {}).config;
  t.equal(on?.localMirror, '127.0.0.1:5050');
  t.equal(on?.localMirrorCredentials, false, 'credentials off unless set');
  t.same(parseLocalMirrorAddress('127.0.0.1:5050', false), { host: '127.0.0.1', port: 5050 });
  const all = resolveConfig(file('local-mirror = "127.8.9.10:65535"\nlocal-mirror-credentials = true\n'), {}).config;
  t.equal(all?.localMirror, '127.8.9.10:65535', 'all of 127.0.0.0/8');
  t.equal(all?.localMirrorCredentials, true, 'credentials when set');
  t.same(resolveConfig(file('local-mirror = "127.0.0.1:5050"\n'), { 'local-mirror': '127.0.0.2:6000' }).config?.localMirror, '127.0.0.2:6000', 'the flag wins');
  t.equal(resolveConfig(file('local-mirror-credentials = true\n'), {}).config?.localMirror, undefined, 'credentials alone turn nothing on');
});

t.test('local-mirror: anything but a loopback HOST:PORT is refused, located, saying why', async (t) => {
  const refused: Array<[string, RegExp]> = [
    ['10.0.0.5:5050', /must be a loopback address \(127\.0\.0\.0\/8.*local-mirror-allow-non-loopback = true/],
    ['0.0.0.0:5050', /must be a loopback address/],
    ['localhost:5050', /must be a loopback address/],
    ['[::1]:5050', /cannot be an IPv6 address .*skopeo 1\.9\.3.*fails every pull/],
    ['127.0.0.1', /must be HOST:PORT with a port from 1 to 65535/],
    ['127.0.0.1:0', /must be HOST:PORT/],
    ['127.0.0.1:65536', /must be HOST:PORT/],
    ['127.0.0.1:05050', /must be HOST:PORT/],
    ['127.0.0.1:50/x', /must be HOST:PORT/],
    ['http://127.0.0.1:5050', /must be HOST:PORT/],
    ['127.0.0.256:5050', /must be HOST:PORT/],
  ];
  for (const [value, why] of refused) {
    const r = resolveConfig(file(`# the endpoint\nlocal-mirror = ${JSON.stringify(value)}\n`), {});
    t.equal(r.config, undefined, value);
    t.match(messages(r), [new RegExp(`^${FILE.replace(/[.]/g, '\\.')}:2:1: .*${why.source}`)], `${value}: file, line, key`);
  }
  t.match(
    messages(resolveConfig(undefined, { 'local-mirror': '10.0.0.5:5050' })),
    [/^--local-mirror: "local-mirror" must be a loopback address/],
    'the flag is named',
  );
  t.match(messages(resolveConfig(file('local-mirror = 5050\n'), {})), [/"local-mirror" must be a non-empty string, not a number/]);
  t.match(messages(resolveConfig(file('local-mirror = "127.0.0.1:5050"\nlocal-mirror-credentials = "yes"\n'), {})), [
    /:2:1: "local-mirror-credentials" must be true or false/,
  ]);
});

t.test('local-mirror-allow-non-loopback = true: another address is accepted (IPv6 still not)', async (t) => {
  const allow = 'local-mirror-allow-non-loopback = true\n';
  t.equal(resolveConfig(file(`${allow}local-mirror = "10.0.0.5:5050"\n`), {}).config?.localMirror, '10.0.0.5:5050');
  t.equal(resolveConfig(file(`${allow}local-mirror = "mirror.lan:5050"\n`), {}).config?.localMirror, 'mirror.lan:5050');
  t.same(parseLocalMirrorAddress('mirror.lan:5050', true), { host: 'mirror.lan', port: 5050 });
  t.match(messages(resolveConfig(file(`${allow}local-mirror = "[::1]:5050"\n`), {})), [/cannot be an IPv6 address/]);
});

t.test('keepStartOnly: a reload keeps the state dir, control socket and logger it started with, and says which changed', async (t) => {
  const next: DaemonConfig = { ...DEFAULTS, stateDir: '/other', logLevel: 'debug', debounceMs: 5 };
  const { config, refused } = keepStartOnly(DEFAULTS, next);
  t.same(
    refused.map((r) => r.name),
    ['state-dir', 'log-level'],
  );
  t.same(refused[0], { name: 'state-dir', was: JSON.stringify(DEFAULTS.stateDir), asked: '"/other"' });
  t.same(config, { ...DEFAULTS, debounceMs: 5 }, 'those kept as they were, the rest as asked');
  t.same(keepStartOnly(DEFAULTS, DEFAULTS).refused, [], 'nothing changed: nothing refused');
});
