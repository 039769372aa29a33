// Run the real skopeo (Debian skopeo 1.9.3, containers/image 5.23) as the
// client in tests, isolated from the host's per-user configuration.
//
// ======================================================================
// FACTS found by running skopeo 1.9.3 against docker-registry 2.8.2 here
// (message fragments are verbatim; P = port, D = sha256:<hex>)
// ======================================================================
//
// Which files are read
// * `--registries-conf FILE` (a hidden global flag, not in `skopeo --help`)
//   replaces /etc/containers/registries.conf, BUT skopeo still loads
//   /etc/containers/registries.conf.d/*.conf (here: shortnames.conf, only
//   [aliases]) and $HOME/.config/containers/registries.conf.d if it exists.
//   There is no flag for the .d dir; the harness cannot change /etc (and must
//   never write there): a [[registry]] for the same prefix in a system
//   drop-in would override ours. --debug shows every file:
//     level=debug msg="Loading registries configuration \"FILE\""
// * CONTAINERS_REGISTRIES_CONF is IGNORED by this build (the string is not
//   in the binary; with it set skopeo still loads /etc/containers/registries.conf).
// * A missing --registries-conf file is a load error, not a fallback to /etc.
// * Credentials are looked up in $XDG_RUNTIME_DIR/containers/auth.json
//   (as root without XDG_RUNTIME_DIR: /run/containers/0/auth.json),
//   $HOME/.config/containers/auth.json, $HOME/.docker/config.json,
//   $HOME/.dockercfg. A XDG_RUNTIME_DIR that does not exist only gives a
//   warning. => we point HOME and XDG_RUNTIME_DIR at a fresh temp dir.
// * Certificates: /etc/docker/certs.d/HOST:PORT unless --cert-dir is given.
// * `--registries.d DIR` (signature lookaside config) defaults to
//   /etc/containers/registries.d; we pass an empty temp dir.
// * Unknown keys in registries.conf are NOT errors, only a debug line, e.g.
//   `blocked = true` inside [[registry.mirror]] is silently ignored:
//     level=debug msg="Failed to decode keys [\"registry.mirror.blocked\"] from \"FILE\""
//
// Debug output (logrus text format on stderr, one line each)
//   time="2026-11-24T01:55:36Z" level=debug msg="Trying to access \"127.0.0.1:P/app@D\""
//   time="..." level=debug msg="Accessing \"127.0.0.1:P/app@D\" failed: <error>"
//   time="..." level=debug msg="GET http://127.0.0.1:P/v2/app/manifests/D"
// * For `source.invalid/app@D` with mirrors M1, M2 the candidates are tried
//   in order M1, M2, source; the first success ends the list (later ones get
//   no "Trying" line and no request). The reference in "Trying to access" is
//   the rewritten one (mirror host + mirror path + @digest or :tag).
// * With `mirror-by-digest-only = true` (or a mirror's
//   `pull-from-mirror = "digest-only"`), a tag pull tries only the source.
//   1.9.3 DOES know pull-from-mirror (values all|digest-only|tag-only).
// * `inspect --raw` fetches the manifest with GET (no HEAD before it).
// * Final failure, exit code 1, on one line (mirror errors joined by a literal \n):
//   level=fatal msg="Error parsing image name \"docker://source.invalid/app@D\": (Mirrors also failed: [127.0.0.1:P1/app@D: <err>]\n[127.0.0.1:P2/app@D: <err>]): source.invalid/app@D: <err>"
//   Without mirrors: msg="Error parsing image name \"docker://REF\": <err>"
//
// http vs https for 127.0.0.1
// * 127.0.0.1 is NOT implicitly insecure. With neither `insecure = true`
//   nor --tls-verify=false, skopeo only speaks https (then https /v1/_ping):
//     pinging container registry 127.0.0.1:P: Get "https://127.0.0.1:P/v2/": http: server gave HTTP response to HTTPS client
// * `insecure = true` on the [[registry]] / [[registry.mirror]] entry works:
//   skopeo still tries https first, gets the error above, then uses http
//   ("Ping http://127.0.0.1:P/v2/ status 200"). The TLS attempt leaves no
//   line in the registry's access log.
// * `--tls-verify=false` on the command line has the same effect for EVERY
//   candidate (all mirrors and the source).
//
// Failure modes of a candidate (all followed by the next candidate)
// * manifest not in that registry (registry logs GET .../manifests/D 404):
//     reading manifest D in 127.0.0.1:P/app: manifest unknown: manifest unknown
// * registry down, insecure: https+http /v2/, then https+http /v1/_ping, a few ms:
//     pinging container registry 127.0.0.1:P: Get "http://127.0.0.1:P/v2/": dial tcp 127.0.0.1:P: connect: connection refused
// * registry blocked (`blocked = true`): no request at all, but it still
//   gets a "Trying to access" line:
//     registry 127.0.0.1:P is blocked in FILE or $HOME/.config/containers/registries.conf.d
//   (for a prefix entry the prefix is named: "registry source.invalid/app is
//   blocked in ..."). A blocked source with a working mirror is served by the
//   mirror; a mirror whose own host has a blocked [[registry]] is skipped
//   with the same message.
// * a hung registry (accepts TCP, never answers): skopeo has NO timeout of
//   its own; it waited > 120 s. `--command-timeout 3s` bounds the whole
//   command: the hung mirror eats all of it and every later candidate then
//   fails at once with "context deadline exceeded". Hence our kill timer.
// * a mirror location with a tag ("127.0.0.1:P/app:tag") is not a load
//   error; at pull time: "Docker references with both a tag and digest are
//   currently not supported".
//
// registries.conf load errors (exit 1, nothing tried, no request made):
//   msg="Error parsing image name \"docker://REF\": loading registries configuration: loading registries configuration \"FILE\": <cause>"
//   <cause> examples:
//     toml: line 2: expected end of table array name delimiter ']', but got '\n' instead
//     toml: line 1 (last key "unqualified-search-registries"): incompatible types: TOML value has type string; destination has type slice
//     open FILE: no such file or directory
//     pull-from-mirror must not be set for a non-mirror registry "source.invalid/app"
//     unsupported pull-from-mirror value "bogus" for mirror "127.0.0.1:P/app"
// * Two [[registry]] with the same prefix: no error; the first one was used.
//
// Timings here: skopeo inspect --raw through 2 local mirrors ~50 ms wall;
// connection refused costs a few ms.

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SkopeoResult {
  /** exit code; -1 if killed (timeout or signal) */
  code: number;
  stdout: string;
  stderr: string;
  /** references from the --debug lines `Trying to access "REF"`, in order */
  tried: string[];
  /** true when the harness killed skopeo because timeoutMs expired */
  timedOut: boolean;
  /** signal that ended the process, if any */
  signal: NodeJS.Signals | null;
  /** wall time in ms */
  elapsedMs: number;
}

export interface SkopeoOptions {
  /** kill (SIGKILL) after this many ms; default 20000 */
  timeoutMs?: number;
  /** extra environment, merged over the isolated env (set a key to undefined to drop it) */
  env?: NodeJS.ProcessEnv;
}

export interface InspectRawOptions {
  /** path of the registries.conf to use (--registries-conf) */
  registriesConf: string;
  timeoutMs?: number;
  /** --tls-verify=...; omitted when undefined (registries.conf `insecure` decides) */
  tlsVerify?: boolean;
  /** inserted after `inspect --raw`, before the reference */
  extraArgs?: string[];
}

const TRYING_RE = /Trying to access \\"([^"\\]*)\\"/;

/** Extract the `Trying to access "REF"` references from skopeo --debug stderr. */
export function parseTried(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = TRYING_RE.exec(line);
    if (m?.[1] !== undefined) out.push(m[1]);
  }
  return out;
}

/**
 * Environment variables that would let the host leak into a test run:
 * auth files, proxies, alternative config locations.
 */
const DROP_ENV = [
  'REGISTRY_AUTH_FILE',
  'DOCKER_CONFIG',
  'CONTAINERS_REGISTRIES_CONF',
  'CONTAINERS_CONF',
  'CONTAINERS_STORAGE_CONF',
  'CONTAINERS_POLICY_JSON',
  'XDG_CONFIG_HOME',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
];

/**
 * Run `skopeo --debug ARGS` (the --debug is prepended unless ARGS already
 * contain it) with an isolated environment and a bounded run time.
 */
export async function skopeo(args: string[], opts: SkopeoOptions = {}): Promise<SkopeoResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const home = await mkdtemp(join(tmpdir(), 'skopeo-home-'));
  try {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!DROP_ENV.includes(k) && v !== undefined) env[k] = v;
    }
    // HOME: ~/.config/containers/{registries.conf,auth.json,policy.json} and
    // ~/.docker/config.json of the real user are never read.
    env.HOME = home;
    // XDG_RUNTIME_DIR: auth is otherwise read from $XDG_RUNTIME_DIR/containers/auth.json
    // or /run/containers/$UID/auth.json (seen in --debug output as root).
    env.XDG_RUNTIME_DIR = home;
    env.TMPDIR = home;
    // The made-up host names of the tests fail at DNS, but here about one lookup in 30 loses
    // its UDP packet and waits out the resolver's 5 s default before the retry (measured with
    // getent: 5 of 150 took 5 s each) — most of the time of the order tests. A set
    // RES_OPTIONS makes Go use the C resolver, which reads it: a lost packet then costs 1 s.
    // The lookup still fails (no such host, or a timeout after 3 tries), so what skopeo tries,
    // and in what order, is the same.
    env.RES_OPTIONS = 'timeout:1 attempts:3';
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    // global flags go before the subcommand; only add what the caller did not give
    const globals: string[] = [];
    if (!args.includes('--debug')) globals.push('--debug');
    if (!args.some((a) => a === '--registries.d' || a.startsWith('--registries.d='))) {
      await mkdir(join(home, 'registries.d'));
      globals.push('--registries.d', join(home, 'registries.d'));
    }
    const fullArgs = [...globals, ...args];
    return await run('skopeo', fullArgs, env, timeoutMs);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<SkopeoResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
        tried: parseTried(stderr),
        timedOut,
        signal,
        elapsedMs: Date.now() - started,
      });
    });
  });
}

/**
 * `skopeo --debug --registries-conf FILE inspect --raw [--tls-verify=X] [EXTRA] REF`
 */
export async function skopeoInspectRaw(ref: string, opts: InspectRawOptions): Promise<SkopeoResult> {
  const args = ['--debug', '--registries-conf', opts.registriesConf, 'inspect', '--raw', '--retry-times', '0'];
  if (opts.tlsVerify !== undefined) args.push(`--tls-verify=${opts.tlsVerify}`);
  args.push(...(opts.extraArgs ?? []), ref);
  return skopeo(args, { timeoutMs: opts.timeoutMs });
}
