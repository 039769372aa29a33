// Real docker/distribution registries for tests (Debian package
// docker-registry, distribution 2.8.2: `/usr/bin/docker-registry serve CFG`).
//
// Each registry gets its own temp dir under os.tmpdir():
//   DIR/config.yml    generated config (below)
//   DIR/storage/      filesystem storage driver root
//   DIR/registry.log  stdout+stderr of the registry (opened O_APPEND, kept
//                     across stop()/start())
//
// Facts found by running docker-registry 2.8.2 here:
// * Two kinds of lines go to the log. logrus lines on stderr
//     time="..." level=info msg="response completed" ... http.request.method=GET
//     http.request.uri=/v2/ ... http.response.status=200 ...
//   and, with `log.accesslog.disabled: false`, Apache "combined" access lines
//   on stdout (gorilla handlers.CombinedLoggingHandler):
//     127.0.0.1 - - [24/Nov/2026:01:53:45 +0000] "HEAD /v2/foo/manifests/sha256:abcd HTTP/1.1" 500 182 "" "curl/7.88.1"
//   requests() parses the access lines (one per complete HTTP request, also
//   for 4xx/5xx; the URI keeps its query string, e.g. blob upload _state).
//   The access line is written when the handler returns, before net/http
//   flushes the (buffered) response, so once a client has read a whole
//   response its line is in the file.
// * A TLS ClientHello sent to this plain-http registry (skopeo tries https
//   first even for `insecure = true` registries) is NOT an HTTP request and
//   leaves no access line; skopeo reports it as "http: server gave HTTP
//   response to HTTPS client".
// * Port taken: the process exits at once (~20 ms) with code 1 and
//     level=fatal msg="listen tcp 127.0.0.1:PORT: bind: address already in use"
// * It logs `msg="listening on 127.0.0.1:PORT"` when ready; startup takes a
//   few tens of ms. Without http.draintimeout it installs no SIGTERM handler,
//   so SIGTERM ends it immediately.
// * HEAD/GET of a digest the repo does not have: 404 (MANIFEST_UNKNOWN);
//   an unknown repo is also 404 (NAME_UNKNOWN); a malformed digest gives 500.
// * Without http.secret it warns "No HTTP secret provided"; we set one.
//   Upload purging is disabled so no background job touches storage.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, mkdtemp, mkdir, writeFile, readFile, stat, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PullSource } from '../../src/registry/pull.js';
import { orAfter } from './or-after.js';

export const REGISTRY_BIN = process.env.TEST_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** serve https with this certificate/key (PEM files) */
  tls?: {
    certFile: string;
    keyFile: string;
    /** require a client certificate signed by one of these CAs (PEM files) */
    clientCaFiles?: string[];
    /** the client certificate the readiness probe presents when clientCaFiles is set */
    probeClient?: { certFile: string; keyFile: string };
  };
  /**
   * require bearer tokens (distribution's `auth: token`): the realm clients get them from,
   * the service and issuer the tokens must name, and the PEM bundle of certificates
   * whose keys may sign them (see test/helpers/token-server.ts)
   */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** require basic auth from this htpasswd file (bcrypt entries; see makeHtpasswd) */
  htpasswdFile?: string;
  /**
   * Port to try first. If it is taken (EADDRINUSE) another free port is
   * chosen, like for the default (a port the OS just handed out).
   */
  port?: number;
  /** accept and serve schema1 manifests (distribution's compatibility.schema1), signed afresh on every GET */
  schema1?: boolean;
  /** bound for the readiness wait of each start, default 5000 ms */
  startTimeoutMs?: number;
}

export interface RegistryRequest {
  method: string;
  /** request path without the query string, e.g. /v2/app/manifests/sha256:... */
  path: string;
  status?: number;
  /** full request URI as logged (path + query) */
  uri: string;
  /** for /v2/<repo>/(manifests|blobs|tags)/<ref> */
  repo?: string;
  kind?: 'manifests' | 'blobs' | 'tags' | 'uploads';
  reference?: string;
  userAgent?: string;
  /** time as logged (second resolution) */
  time?: string;
}

export interface Registry {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  readonly port: number;
  /** temp dir with config.yml, storage/ and registry.log */
  readonly dir: string;
  readonly logFile: string;
  /** "http" or "https" */
  readonly scheme: 'http' | 'https';
  /** pid of the running registry, undefined when stopped */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** SIGTERM, wait for exit (SIGKILL after a bounded wait); keeps dir */
  stop(): Promise<void>;
  /** (re)start on the same port and storage; resolves when GET /v2/ answers */
  start(): Promise<void>;
  /** requests since the last clearLog(), parsed from the access log (harness probes excluded) */
  requests(): Promise<RegistryRequest[]>;
  /** forget the requests seen so far (the file is kept; an offset is remembered) */
  clearLog(): Promise<void>;
  /** raw log text (whole file) for diagnostics */
  log(): Promise<string>;
  /** stop() and remove dir */
  destroy(): Promise<void>;
}

/** User-Agent of the harness's readiness probe; its requests are not reported by requests(). */
const PROBE_UA = 'registry-harness-probe';
const MAX_PORT_ATTEMPTS = 8;
const TERM_WAIT_MS = 3000;
const KILL_WAIT_MS = 2000;

// ------------------------------------------------------ process cleanup ----

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' covers normal exit, process.exit() and uncaught exceptions.
  // Death by signal (tap timeout, SIGKILL) is covered by the per-registry
  // watchdog below. No signal handlers are installed on purpose: tap uses
  // signal-exit, which stops re-raising a signal when foreign listeners exist.
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/**
 * A `sh` that blocks reading a pipe from this process and SIGKILLs `pid` at
 * EOF, i.e. when this process dies in any way (even SIGKILL). It is unref'd
 * so it never keeps the event loop alive.
 */
function spawnWatchdog(pid: number): ChildProcess {
  const wd = spawn('/bin/sh', ['-c', 'while read _; do :; done; kill -9 "$1" 2>/dev/null', 'registry-watchdog', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  wd.unref();
  (wd.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  wd.on('error', () => {});
  return wd;
}

// ------------------------------------------------------------ free port ----

/** A port that was free on 127.0.0.1 a moment ago (the caller must still handle EADDRINUSE). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

// ------------------------------------------------------------ helpers -----

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function q(s: string): string {
  // a JSON string is a valid YAML double-quoted scalar
  return JSON.stringify(s);
}

function configYaml(dir: string, port: number, opts: RegistryOptions, secret: string): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(join(dir, 'storage'))}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${q(`127.0.0.1:${port}`)}`,
    `  secret: ${q(secret)}`,
  ];
  if (opts.tls) {
    lines.push('  tls:', `    certificate: ${q(opts.tls.certFile)}`, `    key: ${q(opts.tls.keyFile)}`);
    // clientcas: Go's tls.RequireAndVerifyClientCert against these CAs
    if (opts.tls.clientCaFiles?.length) lines.push('    clientcas:', ...opts.tls.clientCaFiles.map((f) => `      - ${q(f)}`));
  }
  if (opts.tokenAuth) {
    const a = opts.tokenAuth;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${q(a.realm)}`,
      `    service: ${q(a.service)}`,
      `    issuer: ${q(a.issuer)}`,
      `    rootcertbundle: ${q(a.rootCertBundle)}`,
    );
  }
  if (opts.htpasswdFile) {
    lines.push('auth:', '  htpasswd:', '    realm: test-registry', `    path: ${q(opts.htpasswdFile)}`);
  }
  if (opts.schema1) lines.push('compatibility:', '  schema1:', '    enabled: true');
  return lines.join('\n') + '\n';
}

/** One GET /v2/ with a short timeout; resolves to the status, or undefined if nothing answered. */
function probe(
  scheme: 'http' | 'https',
  port: number,
  timeoutMs: number,
  client?: { cert: Buffer; key: Buffer },
): Promise<{ status: number; api?: string } | undefined> {
  return new Promise((resolve) => {
    const req = (scheme === 'https' ? httpsRequest : httpRequest)(
      {
        host: '127.0.0.1',
        port,
        path: '/v2/',
        method: 'GET',
        headers: { 'User-Agent': PROBE_UA },
        timeout: timeoutMs,
        rejectUnauthorized: false,
        agent: false,
        ...(client ?? {}),
      },
      (res) => {
        res.resume();
        const api = res.headers['docker-distribution-api-version'];
        resolve({ status: res.statusCode ?? 0, api: typeof api === 'string' ? api : undefined });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

const ACCESS_RE = /^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) HTTP\/[\d.]+" (\d{3}) (?:\d+|-)(?: "([^"]*)" "([^"]*)")?/;
const V2_RE = /^\/v2\/(.+)\/(manifests|blobs|tags)\/([^/]+)$/;
const UPLOAD_RE = /^\/v2\/(.+)\/blobs\/uploads(?:\/([^/]*))?$/;

/** Parse the combined-format access lines of a registry log. */
export function parseAccessLog(text: string): RegistryRequest[] {
  const out: RegistryRequest[] = [];
  for (const line of text.split('\n')) {
    const m = ACCESS_RE.exec(line);
    if (!m) continue;
    const [, , time, method, uri, status, , ua] = m;
    if (method === undefined || uri === undefined) continue;
    const path = uri.split('?')[0] ?? uri;
    const r: RegistryRequest = { method, path, uri };
    if (status !== undefined) r.status = Number(status);
    if (time !== undefined) r.time = time;
    if (ua !== undefined) r.userAgent = ua;
    const up = UPLOAD_RE.exec(path);
    const v2 = up ? null : V2_RE.exec(path);
    if (up) {
      r.repo = up[1];
      r.kind = 'uploads';
      if (up[2]) r.reference = up[2];
    } else if (v2) {
      r.repo = v2[1];
      r.kind = v2[2] as 'manifests' | 'blobs' | 'tags';
      r.reference = v2[3];
    }
    out.push(r);
  }
  return out;
}

/** Requests for manifests of `repo` (optionally only this reference: tag or digest). */
export function manifestRequests(reqs: RegistryRequest[], repo: string, reference?: string): RegistryRequest[] {
  return reqs.filter((r) => r.kind === 'manifests' && r.repo === repo && (reference === undefined || r.reference === reference));
}

// ------------------------------------------------------------ registry ----

class RegistryProcess implements Registry {
  readonly dir: string;
  readonly logFile: string;
  readonly scheme: 'http' | 'https';
  #port: number;
  #child: ChildProcess | undefined;
  #watchdog: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #logOffset = 0;
  readonly #opts: RegistryOptions;
  readonly #secret = randomBytes(16).toString('hex');

  constructor(dir: string, port: number, opts: RegistryOptions) {
    this.dir = dir;
    this.logFile = join(dir, 'registry.log');
    this.#port = port;
    this.#opts = opts;
    this.scheme = opts.tls ? 'https' : 'http';
  }

  get port(): number {
    return this.#port;
  }
  get host(): string {
    return `127.0.0.1:${this.#port}`;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** One attempt on the current port. Throws an Error with .code='EADDRINUSE' if the port is taken. */
  async #spawnOnce(): Promise<void> {
    const cfg = join(this.dir, 'config.yml');
    await writeFile(cfg, configYaml(this.dir, this.#port, this.#opts, this.#secret));
    const startOffset = await fileSize(this.logFile);
    // 'a' = O_APPEND: stdout and stderr share the file without overwriting
    // each other, and the file keeps growing across restarts.
    const fh = await open(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(REGISTRY_BIN, ['serve', cfg], {
        stdio: ['ignore', fh.fd, fh.fd],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, // no REGISTRY_* overrides from the host
      });
    } finally {
      await fh.close(); // the child has its own copy of the fd
    }
    // unref: a forgotten registry never keeps the test process alive; the
    // 'exit' hook (and the watchdog) kill it when the process ends
    child.unref();
    installExitHook();
    live.add(child);
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = { code, signal };
        live.delete(child);
        if (this.#child === child) this.#child = undefined;
        this.#killWatchdog();
        resolve();
      });
      child.once('error', (e) => {
        spawnError = e;
        live.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    this.#child = child;
    if (child.pid !== undefined) this.#watchdog = spawnWatchdog(child.pid);

    // Bounded readiness wait: poll GET /v2/ every 50 ms (each probe at most
    // 500 ms) until the deadline (generous: a loaded machine starts processes slowly; a
    // ready registry returns at once); give up early if the process exits.
    const pc = this.#opts.tls?.probeClient;
    const probeClient = pc ? { cert: await readFile(pc.certFile), key: await readFile(pc.keyFile) } : undefined;
    const deadline = Date.now() + (this.#opts.startTimeoutMs ?? 30_000);
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      if (spawnError) throw new Error(`cannot run ${REGISTRY_BIN}: ${spawnError.message}`);
      if (exitInfo) break;
      // race the probe with the exit so a dying child is noticed at once
      // (a foreign listener on the port may accept and never answer)
      const r = await Promise.race([probe(this.scheme, this.#port, 500, probeClient), this.#exited.then(() => undefined)]);
      // any HTTP answer counts (401 with htpasswd), but it must come from a
      // registry and our child must still be alive (not someone else's port)
      if (r && r.api === 'registry/2.0' && !exitInfo && this.#child === child) return;
      await sleep(50);
    }
    const logTail = (await readFrom(this.logFile, startOffset)).slice(-2000);
    if (!exitInfo) {
      await this.stop();
      throw new Error(`registry on ${this.host} not ready within ${this.#opts.startTimeoutMs ?? 30_000} ms; log:\n${logTail}`);
    }
    const err = new Error(
      `registry on ${this.host} exited (code ${exitInfo.code}, signal ${exitInfo.signal}) during start; log:\n${logTail}`,
    ) as NodeJS.ErrnoException;
    if (/address already in use/.test(logTail)) err.code = 'EADDRINUSE';
    throw err;
  }

  /** First start: on EADDRINUSE pick another free port, a bounded number of times. */
  async startFresh(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#spawnOnce();
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= MAX_PORT_ATTEMPTS) throw e;
        this.#port = await freePort();
      }
    }
  }

  async start(): Promise<void> {
    if (this.#child) return;
    // Restart must keep the port (clients' registries.conf point at it): if
    // it is briefly taken, retry a bounded number of times on the same port.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#spawnOnce();
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw e;
        await sleep(200);
      }
    }
  }

  #killWatchdog(): void {
    const wd = this.#watchdog;
    this.#watchdog = undefined;
    if (wd && wd.exitCode === null && wd.signalCode === null) {
      try {
        wd.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    // kill the watchdog first so it can never fire at a recycled pid
    this.#killWatchdog();
    const exited = this.#exited;
    child.kill('SIGTERM');
    const termed = await orAfter(
      exited.then(() => true),
      TERM_WAIT_MS,
      false,
    );
    if (!termed) {
      child.kill('SIGKILL');
      const killed = await orAfter(
        exited.then(() => true),
        KILL_WAIT_MS,
        false,
      );
      if (!killed) throw new Error(`registry pid ${child.pid} did not exit after SIGKILL`);
    }
  }

  async requests(): Promise<RegistryRequest[]> {
    const text = await readFrom(this.logFile, this.#logOffset);
    return parseAccessLog(text).filter((r) => r.userAgent !== PROBE_UA);
  }

  async clearLog(): Promise<void> {
    this.#logOffset = await fileSize(this.logFile);
  }

  async log(): Promise<string> {
    return readFrom(this.logFile, 0);
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    return '';
  }
  return buf.subarray(Math.min(offset, buf.length)).toString('utf8');
}

/**
 * Start a registry on a free 127.0.0.1 port with its own temp dir. Resolves
 * once GET /v2/ answers. The process is SIGKILLed if the test process exits.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-'));
  await mkdir(join(dir, 'storage'), { recursive: true });
  const reg = new RegistryProcess(dir, opts.port ?? (await freePort()), opts);
  try {
    await reg.startFresh();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return reg;
}

/** Minimal shape of a tap Test (so this file does not depend on tap's types). */
export interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** startRegistry + t.teardown(destroy). Set KEEP_REGISTRY_DIRS=1 to keep the dirs for debugging. */
export async function registryFor(t: Teardownable, opts: RegistryOptions = {}): Promise<Registry> {
  const reg = await startRegistry(opts);
  t.teardown(() => (process.env.KEEP_REGISTRY_DIRS ? reg.stop() : reg.destroy()));
  return reg;
}

// ------------------------------------------------------ tls & htpasswd ----

function execFileP(cmd: string, args: string[], timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Self-signed EC P-256 certificate for 127.0.0.1 (SAN IP:127.0.0.1 and
 * DNS:localhost) via openssl. certDir contains ca.crt (the same cert), so it
 * can be given to skopeo as --cert-dir / --dest-cert-dir.
 */
export async function makeSelfSignedCert(dir: string): Promise<{ certFile: string; keyFile: string; certDir: string }> {
  const certDir = join(dir, 'certs');
  await mkdir(certDir, { recursive: true });
  const certFile = join(certDir, 'ca.crt');
  const keyFile = join(dir, 'registry.key');
  await execFileP('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { certFile, keyFile, certDir };
}

/** htpasswd file with one bcrypt entry (docker-registry accepts only bcrypt). */
export async function makeHtpasswd(file: string, user: string, password: string): Promise<string> {
  const line = await execFileP('htpasswd', ['-Bbn', user, password]);
  await writeFile(file, line.trim() + '\n');
  return file;
}

/** A pull source on a harness registry (plain http on 127.0.0.1, so insecure): `reference` is `HOST/REPO[:TAG|@DIGEST]`. */
export function harnessSource(reference: string, role: PullSource['role'] = 'mirror'): PullSource {
  return { reference, endpoint: { host: reference.slice(0, reference.indexOf('/')), insecure: true }, role, blocked: false };
}
