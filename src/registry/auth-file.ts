/**
 * Credentials from containers-auth.json(5) files, in containers/image's lookup order:
 * --authfile (or $REGISTRY_AUTH_FILE), $XDG_RUNTIME_DIR/containers/auth.json
 * (/run/containers/UID/auth.json when unset), ~/.config/containers/auth.json,
 * ~/.docker/config.json. Keys may be scoped: `host/ns/repo` beats `host/ns` beats `host`.
 * The first file with a matching key wins. Credentials never leave this module except
 * to the request that needs them: never logged, never in status.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface AuthFileJson {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
}

export function authFilePaths(env: NodeJS.ProcessEnv = process.env, explicit?: string): string[] {
  if (explicit) return [explicit];
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const uid = process.getuid?.() ?? 0;
  const home = env.HOME ?? homedir();
  return [
    env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : `/run/containers/${uid}/auth.json`,
    join(home, '.config', 'containers', 'auth.json'),
    join(home, '.docker', 'config.json'),
  ];
}

/** Legacy docker keys look like URLs ("https://index.docker.io/v1/"): reduce them to host[/path]. */
export function normaliseAuthKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '');
  if (k.startsWith('index.docker.io/v1')) return 'docker.io';
  if (/^[^/]+\/v[12]\/?$/.test(k)) k = k.slice(0, k.indexOf('/'));
  return k.replace(/\/+$/, '');
}

/** The keys to try for a repository, most specific first: host/a/b, host/a, host. */
export function candidateKeys(repository: string): string[] {
  const parts = repository.split('/');
  const out: string[] = [];
  for (let n = parts.length; n >= 1; n--) out.push(parts.slice(0, n).join('/'));
  return out;
}

function decode(entry: { auth?: string; username?: string; password?: string }): Credentials | undefined {
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  return i < 0 ? undefined : { username: plain.slice(0, i), password: plain.slice(i + 1) };
}

/** Pure lookup in one parsed file: a credential helper name or credentials. */
export function lookupInFile(file: AuthFileJson, repository: string): { helper: string } | { credentials: Credentials } | undefined {
  const auths = Object.entries(file.auths ?? {}).map(([k, v]) => [normaliseAuthKey(k), v] as const);
  const host = repository.split('/')[0] ?? repository;
  for (const key of candidateKeys(repository)) {
    const hit = auths.find(([k]) => k === key);
    const creds = hit ? decode(hit[1]) : undefined;
    if (creds) return { credentials: creds };
  }
  const helper = file.credHelpers?.[host];
  return helper ? { helper } : undefined;
}

function runHelper(helper: string, host: string): Promise<Credentials | undefined> {
  return new Promise((resolve) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 10_000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        const j = JSON.parse(stdout) as { Username?: string; Secret?: string };
        resolve(j.Username !== undefined && j.Secret !== undefined ? { username: j.Username, password: j.Secret } : undefined);
      } catch {
        resolve(undefined);
      }
    });
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

/** Finds credentials for `repository` (host[:port]/path, the physical reference's name). */
export async function findCredentials(repository: string, opts: { authFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Credentials | undefined> {
  for (const path of authFilePaths(opts.env, opts.authFile)) {
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
      json = JSON.parse(text) as AuthFileJson;
    } catch (e) {
      // Not skipped (containers/image fails the pull too): a 401 with no word of why would follow.
      // eslint-disable-next-line preserve-caught-error -- not attached: the parser's error quotes the file's text, which may be a credential
      throw new Error(`auth file ${path} is not valid JSON${jsonErrorAt((e as Error).message, text)}; fix or remove it`);
    }
    const hit = lookupInFile(json, repository);
    if (!hit) continue;
    if ('credentials' in hit) return hit.credentials;
    return runHelper(hit.helper, repository.split('/')[0] ?? repository);
  }
  return undefined;
}
