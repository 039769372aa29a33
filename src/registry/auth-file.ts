/**
 * Credentials as containers/image finds them: registries.conf's `credential-helpers` in turn
 * (default `containers-auth.json` alone; any other NAME runs docker-credential-NAME), and for
 * `containers-auth.json` the containers-auth.json(5) files, in containers/image's lookup order:
 * --authfile (or $REGISTRY_AUTH_FILE) alone, else $XDG_RUNTIME_DIR/containers/auth.json
 * (/run/containers/UID/auth.json when unset), $XDG_CONFIG_HOME/containers/auth.json
 * (~/.config), ~/.docker/config.json ($DOCKER_CONFIG/config.json when that is set), and Docker's
 * legacy ~/.dockercfg (a bare map of keys). In each file, a `credHelpers` entry for the registry
 * host comes first (its docker-credential-NAME program is asked), then the first `auths` key
 * present, scoped ones first: `host/ns/repo` beats `host/ns` beats `host` (the legacy file: the
 * host alone), then any key naming the host as a URL. The first file that yields credentials
 * wins; a helper that has none for the host ("credentials not found") passes on to the next file,
 * a helper that fails is an error, as in containers/image (pkg/docker/config).
 * Credentials never leave this module except to the request that needs them: never logged, never
 * in status, never a helper's output in a message.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { homeDirectory } from '../core/home-dir.js';
import { AUTH_FILE_HELPER } from '../registries-conf/layer.js';
import { nameAndParents, registryHostOf } from '../reference/scope.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
  /**
   * An OAuth2 refresh token (`identitytoken` in an auth file, or a helper's `<token>` user, as
   * `az acr login` leaves them): traded at the token service by a POST, as containers/image does.
   */
  readonly identityToken?: string;
}

/** How credentials are named in a message: the user, never a secret. */
export function credentialsShown(c: Credentials): string {
  return c.identityToken !== undefined ? `the identity token${c.username ? ` of ${c.username}` : ''}` : `the credentials of ${c.username}`;
}

type AuthEntry = { auth?: string; username?: string; password?: string; identitytoken?: string };

export interface AuthFileJson {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
}

export interface AuthFilePath {
  readonly path: string;
  /** Docker's ~/.dockercfg: the `auths` map alone, keyed by host (often as a URL) */
  readonly legacy: boolean;
}

export function authFilePaths(env: NodeJS.ProcessEnv = process.env, explicit?: string): AuthFilePath[] {
  const file = (path: string, legacy = false): AuthFilePath => ({ path, legacy });
  if (explicit) return [file(explicit)];
  if (env.REGISTRY_AUTH_FILE) return [file(env.REGISTRY_AUTH_FILE)];
  const uid = process.getuid?.() ?? 0;
  const home = homeDirectory(env);
  return [
    file(env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : `/run/containers/${uid}/auth.json`),
    file(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json')),
    // Docker's own variable names the directory of its config.json (containers/image ≥ 5.7 reads it too).
    file(env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(home, '.docker', 'config.json')),
    file(join(home, '.dockercfg'), true),
  ];
}

/** docker.io's other names, as containers/image compares registries. */
function normaliseRegistry(host: string): string {
  return host === 'docker.io' || host === 'registry-1.docker.io' ? 'index.docker.io' : host;
}

/**
 * The registry an auth file key names, for the look-up when no key matched exactly: a URL
 * ("https://index.docker.io/v1/", as docker login once wrote them) or any key of the legacy file
 * is cut to its host; containers/image's normalizeAuthFileKey.
 */
export function normaliseAuthKey(key: string, legacy = false): string {
  const stripped = key.replace(/^http:\/\//, '').replace(/^https:\/\//, '');
  return normaliseRegistry(legacy || stripped !== key ? (stripped.split('/')[0] ?? '') : stripped);
}

function decode(entry: AuthEntry | null): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const identityToken = entry.identitytoken ? { identityToken: entry.identitytoken } : {};
  if (entry.username !== undefined && entry.password !== undefined) return nonEmpty({ username: entry.username, password: entry.password, ...identityToken });
  const plain = entry.auth ? Buffer.from(entry.auth, 'base64').toString('utf8') : '';
  const i = plain.indexOf(':');
  // NULs around the password are trimmed, as containers/image trims them.
  if (i >= 0) return nonEmpty({ username: plain.slice(0, i), password: plain.slice(i + 1).replace(/^\0+|\0+$/g, ''), ...identityToken });
  return entry.identitytoken ? { username: '', password: '', identityToken: entry.identitytoken } : undefined;
}

/**
 * Credentials that say nothing (no user, password or token: an `auth` of ":", a helper's empty
 * answer) are none: containers/image compares with the empty DockerAuthConfig and goes on to the
 * next file or helper, where taken as found they ended the search and were sent as `Basic Og==`.
 */
function nonEmpty(c: Credentials): Credentials | undefined {
  return c.username === '' && c.password === '' && !c.identityToken ? undefined : c;
}

/**
 * Pure lookup in one parsed file, in containers/image's order: the registry host's credential
 * helper if the file names one (it then answers for the file), else the first `auths` key present
 * (even one that yields nothing, such as the `{}` Docker leaves beside a credsStore: the file then
 * has nothing for the repository), else a key naming the host as a URL.
 */
export function lookupInFile(file: AuthFileJson, repository: string, legacy = false): { helper: string } | { credentials: Credentials } | undefined {
  const host = registryHostOf(repository);
  const helper = file.credHelpers?.[host];
  if (helper) return { helper };
  const auths = typeof file.auths === 'object' && file.auths !== null ? file.auths : {};
  const key =
    (legacy ? [host] : nameAndParents(repository)).find((k) => Object.hasOwn(auths, k)) ??
    Object.keys(auths).find((k) => normaliseAuthKey(k, legacy) === normaliseRegistry(host));
  const credentials = key === undefined ? undefined : decode(auths[key] ?? null);
  return credentials && { credentials };
}

/** What a helper prints (exit 1) when it has nothing for the host: docker-credential-helpers' errCredentialsNotFoundMessage. */
const NOT_FOUND = 'credentials not found in native keychain';
const HELPER_TIMEOUT_MS = 10_000;

/**
 * `docker-credential-NAME get` (from the PATH of `opts.env`, else ours) with the repository's
 * registry host on stdin. Undefined when it has no credentials for the host; an error when it
 * cannot be run, fails or answers what we cannot use (its output is never quoted: a helper may
 * print a secret even when it fails).
 */
function runHelper(helper: string, repository: string, opts: FindCredentialsOptions): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  const host = registryHostOf(repository);
  const timeoutMs = opts.helperTimeoutMs ?? HELPER_TIMEOUT_MS;
  if (helper.includes('/'))
    return Promise.reject(
      new Error(`credHelpers names "${helper.slice(0, 100)}" for ${host}: a helper name has no "/" (it runs docker-credential-NAME from PATH)`),
    );
  return new Promise((resolve, reject) => {
    const child = execFile(program, ['get'], { env: opts.env ?? process.env, timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err) {
        if (stdout.trim() === NOT_FOUND) return resolve(undefined);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return reject(new Error(`credential helper ${program} (credHelpers, for ${host}) is not installed: not found in PATH`));
        return reject(
          new Error(
            `credential helper ${program} failed for ${host}: ${err.killed ? `no answer within ${timeoutMs / 1000} s` : `exit status ${String(code ?? err.signal)}`}`,
          ),
        );
      }
      let j: { Username?: unknown; Secret?: unknown };
      try {
        j = JSON.parse(stdout) as typeof j;
      } catch {
        return reject(new Error(`credential helper ${program} answered ${host} with something other than JSON`));
      }
      if (typeof j.Username !== 'string' || typeof j.Secret !== 'string')
        return reject(new Error(`credential helper ${program} answered ${host} without a Username and a Secret`));
      // "<token>" marks an OAuth2 identity (refresh) token, traded at the token service (client.ts).
      resolve(nonEmpty(j.Username === '<token>' ? { username: '', password: '', identityToken: j.Secret } : { username: j.Username, password: j.Secret }));
    });
    child.stdin?.on('error', () => undefined); // a helper that exits without reading stdin
    child.stdin?.end(host);
  });
}

/**
 * Where JSON.parse stopped, as ` at line L, column C`, from the offset its message gives. Not its
 * message itself: V8 quotes the text around the error, which here may be a credential.
 */
function jsonErrorAt(message: string, text: string): string {
  const offset = /at position (\d+)/.exec(message);
  if (!offset) return '';
  const before = text.slice(0, Number(offset[1]));
  const line = before.split('\n').length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

export interface FindCredentialsOptions {
  readonly authFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * registries.conf's `credential-helpers`, in order: `containers-auth.json` is the auth files,
   * any other NAME the docker-credential-NAME program (default: the auth files alone).
   */
  readonly credentialHelpers?: readonly string[];
  /** a credential helper's deadline (10 s) */
  readonly helperTimeoutMs?: number;
}

/**
 * Finds credentials for `repository` (host[:port]/path, the physical reference's name) as
 * containers/image does: each of registries.conf's credential helpers in turn, the first that
 * has some wins; one that fails does not stop the others, and is the error when none had any.
 */
export async function findCredentials(repository: string, opts: FindCredentialsOptions = {}): Promise<Credentials | undefined> {
  const errors: Error[] = [];
  for (const helper of opts.credentialHelpers ?? [AUTH_FILE_HELPER]) {
    try {
      const found = helper === AUTH_FILE_HELPER ? await fromAuthFiles(repository, opts) : await runHelper(helper, repository, opts);
      if (found) return found;
    } catch (e) {
      errors.push(e as Error);
    }
  }
  if (errors.length > 1) throw new Error(errors.map((e) => e.message).join('; '));
  if (errors[0]) throw errors[0];
  return undefined;
}

/** The auth files in their lookup order (authFilePaths): the first that yields credentials wins. */
async function fromAuthFiles(repository: string, opts: FindCredentialsOptions): Promise<Credentials | undefined> {
  for (const { path, legacy } of authFilePaths(opts.env, opts.authFile)) {
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (e) {
      // A missing default file is skipped, as containers/image skips it; a missing --authfile,
      // or a file that is there and cannot be read, is an error, as there.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !opts.authFile) continue;
      throw new Error(`cannot read auth file ${path}: ${(e as Error).message}`, { cause: e });
    }
    let json: AuthFileJson;
    try {
      json = legacy ? { auths: JSON.parse(text) as AuthFileJson['auths'] } : (JSON.parse(text) as AuthFileJson);
    } catch (e) {
      // Not skipped (containers/image fails the pull too): a 401 with no word of why would follow.
      // eslint-disable-next-line preserve-caught-error -- not attached: the parser's error quotes the file's text, which may be a credential
      throw new Error(`auth file ${path} is not valid JSON${jsonErrorAt((e as Error).message, text)}; fix or remove it`);
    }
    const hit = typeof json === 'object' && json !== null ? lookupInFile(json, repository, legacy) : undefined;
    if (!hit) continue;
    if ('credentials' in hit) return hit.credentials;
    const fromHelper = await runHelper(hit.helper, repository, opts);
    if (fromHelper) return fromHelper; // none for this host: the next file
  }
  return undefined;
}
