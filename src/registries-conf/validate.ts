/**
 * containers/image's load-time rules for registries.conf (sysregistriesv2
 * `postProcessRegistries` and friends; messages keep upstream wording so they can be
 * searched), plus one rule containers/image only finds at pull time: every prefix,
 * location and mirror must rewrite image names into canonical references.
 *
 * Every value is judged by containers/image's own reference rules (its docker/reference fork:
 * no IPv6 hosts, 255 characters for domain and path together), not distribution/reference's:
 * containers/image is what reads the file, and one value it refuses fails every pull.
 */
import { error, warning, type DataPath as TomlPath, type Diagnostic, type Location, type Locator } from '../core/diagnostic.js';
import {
  ERR_NOT_CANONICAL,
  isDomainContainersImage,
  parseContainersImage,
  parseNamedContainersImage,
  parseNormalizedNamedContainersImage,
  InvalidReferenceError,
  isPlainCanonicalName,
} from '../reference/reference.js';
import { mirrorServes, PULL_FROM_MIRROR_VALUES, SHORT_NAME_MODES, registryScope, type Endpoint, type RegistriesConf, type RegistryTable } from './model.js';

function hasScheme(s: string): boolean {
  return s.startsWith('http://') || s.startsWith('https://');
}

function schemeError(at: Location, value: string): Diagnostic {
  return error(at, `invalid location '${value}': URI schemes are not supported`);
}

/**
 * Whether a reference's domain, as the grammar takes it (parseContainersImage), names a
 * registry: containers/image's test in shortnames.go.
 */
function namesRegistry(domain: string): boolean {
  return domain.includes('.') || domain.includes(':') || domain === 'localhost';
}

/** containers/image's validateShortName and parseShortNameValue (sysregistriesv2/shortnames.go), checks in their order. */
export function validateShortNameAlias(name: string, value: string): string | undefined {
  try {
    const ref = parseContainersImage(name);
    if (ref.digest !== undefined) return `invalid short name "${name}": must not contain digest`;
    if (ref.tag !== undefined) return `invalid short name "${name}": must not contain tag`;
    if (namesRegistry(ref.domain)) return `invalid short name "${name}": must not contain registry`;
  } catch (e) {
    return `invalid short name "${name}": ${(e as Error).message}`;
  }
  if (value === '') return undefined; // erases an alias of an earlier file
  try {
    const ref = parseContainersImage(value);
    if (ref.digest !== undefined) return `invalid alias "${name}" = "${value}": must not contain digest`;
    if (ref.tag !== undefined) return `invalid alias "${name}" = "${value}": must not contain tag`;
    // "build_server.corp/app": a first part with '.' that the grammar does not take for a domain.
    if (!namesRegistry(ref.domain)) return `invalid alias "${name}" = "${value}": must contain registry and repository`;
    parseNormalizedNamedContainersImage(value); // upstream's final parse, normalising
  } catch (e) {
    return `invalid alias "${name}" = "${value}": ${(e as Error).message}`;
  }
  return undefined;
}

/** Strings that cannot be written as UTF-8 (a lone surrogate, possible through a YAML escape). */
function malformedStrings(conf: RegistriesConf, locate: Locator): Diagnostic[] {
  const out: Diagnostic[] = [];
  // The path is built only for a string found malformed: 10 000 tables have some 40 000 strings.
  const malformed = (v: string | undefined): v is string => v !== undefined && !v.isWellFormed();
  const report = (v: string, path: Array<string | number>): void => {
    out.push(error(locate(path), `${JSON.stringify(v)} is not valid Unicode text (a lone UTF-16 surrogate)`));
  };
  const check = (v: string | undefined, path: Array<string | number>): void => {
    if (malformed(v)) report(v, path);
  };
  conf.unqualifiedSearchRegistries?.forEach((v, i) => check(v, ['unqualified-search-registries', i]));
  conf.credentialHelpers?.forEach((v, i) => check(v, ['credential-helpers', i]));
  check(conf.shortNameMode, ['short-name-mode']);
  check(conf.additionalLayerStoreAuthHelper, ['additional-layer-store-auth-helper']);
  for (const [k, v] of Object.entries(conf.aliases ?? {})) {
    check(k, ['aliases', k]);
    check(v, ['aliases', k]);
  }
  conf.registries.forEach((t, i) => {
    if (malformed(t.prefix)) report(t.prefix, ['registry', i, 'prefix']);
    if (malformed(t.location)) report(t.location, ['registry', i, 'location']);
    t.mirrors.forEach((m, j) => {
      if (malformed(m.location)) report(m.location, ['registry', i, 'mirror', j, 'location']);
      if (malformed(m.pullFromMirror)) report(m.pullFromMirror, ['registry', i, 'mirror', j, 'pull-from-mirror']);
    });
  });
  return out;
}

/** A value quoted for a message, every invisible or line-breaking character escaped (JSON.stringify leaves DEL, C1 and U+2028 raw). */
function quoted(value: string): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** credential-helpers' reserved value: the auth.json files, no program. */
const AUTH_FILES_HELPER = 'containers-auth.json';
/**
 * What a helper name may be. containers/image runs `docker-credential-NAME` with Go's exec.Command,
 * which searches PATH only for a name without "/": "../x" would run a file relative to the working
 * directory of whatever pulls. Real helpers (pass, secretservice, ecr-login, gcloud) are single words.
 */
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const HELPER_NAME_RULE = 'letters, digits, ".", "_", "+" and "-", starting with a letter or digit (no "/", spaces or control characters)';

export function credentialHelperProblem(name: string): string | undefined {
  if (name === AUTH_FILES_HELPER || HELPER_NAME.test(name)) return undefined;
  return `invalid credential helper ${quoted(name)}: containers/image runs "docker-credential-NAME" found in PATH, so NAME must be ${HELPER_NAME_RULE}; or "${AUTH_FILES_HELPER}" for the auth.json files`;
}

/**
 * additional-layer-store-auth-helper is run as given (exec.Command): a bare name is searched in PATH,
 * anything with "/" is a path, which must then be absolute and plain (a relative one depends on the
 * working directory of whatever pulls).
 */
export function layerStoreHelperProblem(helper: string): string | undefined {
  const plainAbsolute =
    helper.startsWith('/') &&
    helper
      .slice(1)
      .split('/')
      .every((seg) => HELPER_NAME.test(seg));
  if (HELPER_NAME.test(helper) || plainAbsolute) return undefined;
  return `invalid additional-layer-store-auth-helper ${quoted(helper)}: must be a program name found in PATH or an absolute path, each part ${HELPER_NAME_RULE}`;
}

function helperProblems(conf: RegistriesConf, locate: Locator): Diagnostic[] {
  const out: Diagnostic[] = [];
  (conf.credentialHelpers ?? []).forEach((name, i) => {
    const problem = credentialHelperProblem(name);
    if (problem) out.push(error(locate(['credential-helpers', i], name), problem));
  });
  const als = conf.additionalLayerStoreAuthHelper;
  const problem = als ? layerStoreHelperProblem(als) : undefined;
  if (problem && als) out.push(error(locate(['additional-layer-store-auth-helper'], als), problem));
  return out;
}

/** The per-file load-time checks of containers/image (containers-registries.conf(5)). */
export function validateConf(conf: RegistriesConf, locate: Locator): Diagnostic[] {
  const out: Diagnostic[] = [...malformedStrings(conf, locate), ...helperProblems(conf, locate)];
  (conf.unqualifiedSearchRegistries ?? []).forEach((entry, i) => {
    const at = locate(['unqualified-search-registries', i], entry);
    if (hasScheme(entry)) out.push(schemeError(at, entry));
    else if (!isDomainContainersImage(entry.replace(/\/+$/, ''))) out.push(error(at, `Invalid unqualified-search-registries entry "${entry}"`));
  });
  if (conf.shortNameMode && !SHORT_NAME_MODES.includes(conf.shortNameMode)) {
    out.push(error(locate(['short-name-mode'], conf.shortNameMode), `invalid short-name mode: "${conf.shortNameMode}"`));
  }
  for (const [name, value] of Object.entries(conf.aliases ?? {})) {
    const problem = validateShortNameAlias(name, value);
    if (problem) out.push(error(locate(['aliases', name]), `validating short-name aliases: ${problem}`));
  }

  const seenPrefix = new Map<string, number>();
  conf.registries.forEach((reg, i) => {
    const at = (path: TomlPath, needle?: string): Location => locate(['registry', i, ...path], needle);
    const prefix = reg.prefix ?? '';
    if (hasScheme(prefix)) out.push(schemeError(at(['prefix'], prefix), prefix));
    if (hasScheme(reg.location)) out.push(schemeError(at(['location'], reg.location), reg.location));
    if (!prefix && !reg.location) out.push(error(at([]), 'invalid condition: both location and prefix are unset'));
    else if (!reg.location && !prefix.startsWith('*.')) {
      out.push(error(at(['prefix'], prefix), 'invalid condition: location is unset and prefix is not in the format: *.example.com'));
    }
    // On the scope, as containers/image checks it after postProcessRegistries set Prefix = Location:
    // a wildcard location without a prefix (or a v1 list's) is held to the format too.
    const scope = registryScope(reg);
    if (scope.startsWith('*.') && /[/@:]/.test(scope)) {
      const key = reg.prefix ? 'prefix' : 'location';
      out.push(error(at([key], scope), `Wildcarded prefix should be in the format: *.example.com. Current prefix "${scope}" is incorrectly formatted`));
    }
    const first = seenPrefix.get(scope);
    if (first !== undefined) {
      out.push(
        error(
          at(['prefix'], scope),
          `prefix "${scope}" is defined more than once (also table ${first + 1}); containers/image would silently use only the first`,
        ),
      );
    } else seenPrefix.set(scope, i);
    reg.mirrors.forEach((m, j) => {
      const mat = (key: string, needle?: string): Location => at(['mirror', j, key], needle);
      if (!m.location) out.push(error(mat('location'), 'invalid condition: mirror location is unset'));
      else if (hasScheme(m.location)) out.push(schemeError(mat('location', m.location), m.location));
      if (m.pullFromMirror) {
        if (reg.mirrorByDigestOnly) {
          out.push(
            error(
              mat('pull-from-mirror', m.pullFromMirror),
              `cannot set mirror usage mirror-by-digest-only for the registry ("${scope}") and pull-from-mirror for per-mirror ("${m.location}") at the same time`,
            ),
          );
        }
        if (!PULL_FROM_MIRROR_VALUES.includes(m.pullFromMirror)) {
          out.push(error(mat('pull-from-mirror', m.pullFromMirror), `unsupported pull-from-mirror value "${m.pullFromMirror}" for mirror "${m.location}"`));
        }
      }
    });
  });

  // Tables sharing a physical location must agree on insecure and blocked.
  const byLocation = new Map<string, { insecure: boolean; blocked: boolean; index: number }>();
  conf.registries.forEach((reg, i) => {
    const key = reg.location || (reg.prefix ?? '');
    const seen = byLocation.get(key);
    const here = { insecure: reg.insecure === true, blocked: reg.blocked === true, index: i };
    if (!seen) {
      byLocation.set(key, here);
      return;
    }
    for (const flag of ['insecure', 'blocked'] as const) {
      if (seen[flag] !== here[flag]) {
        out.push(error(locate(['registry', i, flag]), `registry '${key}' is defined multiple times with conflicting '${flag}' setting`));
      }
    }
  });
  return out;
}

/** Representative suffix of an image name below any scope: docker.io needs two path components. */
const SAMPLE = '/ns/repo';
/**
 * The shortest suffix: a name of one component, which only docker.io (`docker.io/library/NAME`) refuses as it is.
 * Asked of a location without a path only: with one, both samples keep two components after the host.
 */
const SHORT_SAMPLE = '/repo';
/** The one scope whose names never have one component below it: containers/image normalizes `docker.io/NAME` first. */
const HUB = 'docker.io';

/**
 * What containers/image's rewrite makes of each distinct name: parsed once per render however
 * many tables, mirrors and rounds use it (a table's location is usually its prefix, a mirror
 * often serves many scopes, and the daemon may validate several rounds of one render).
 */
export class RewriteChecks {
  private readonly problems = new Map<string, string | undefined>();
  /** How many names were parsed (each distinct one once): the cost of the checks, to keep linear. */
  parsed = 0;

  /** problem(`location` + SAMPLE) by `location`, null for none: a look-up builds no new string (30 000 a render at 10 000 tables). */
  private readonly below = new Map<string, string | null>();
  /** The same with SHORT_SAMPLE. */
  private readonly belowShort = new Map<string, string | null>();

  /** Why `location` followed by a representative image name is not a canonical reference (what a rewrite to `location` gives); undefined when it is. */
  problemBelow(location: string): string | undefined {
    return this.sampled(this.below, location, SAMPLE);
  }

  /** problemBelow for a name of one component below `location` (`location/repo`). */
  problemBelowShort(location: string): string | undefined {
    return this.sampled(this.belowShort, location, SHORT_SAMPLE);
  }

  private sampled(known: Map<string, string | null>, location: string, sample: string): string | undefined {
    let p = known.get(location);
    if (p === undefined) {
      this.parsed++; // the name with the sample is asked only here: no need to keep it in `problems` too
      known.set(location, (p = canonicalProblem(location + sample) ?? null));
    }
    return p ?? undefined;
  }

  /** Why `name` is not a canonical reference without tag or digest; undefined when it is. */
  problem(name: string): string | undefined {
    if (this.problems.has(name)) return this.problems.get(name);
    this.parsed++;
    const problem = canonicalProblem(name);
    this.problems.set(name, problem);
    return problem;
  }
}

/** Parses `s` as containers/image's rewrite would: canonical form required. */
function canonicalProblem(s: string): string | undefined {
  if (isPlainCanonicalName(s)) return undefined; // the usual name: no parse needed
  try {
    const ref = parseNamedContainersImage(s);
    if (ref.tag !== undefined || ref.digest !== undefined) return 'contains a tag or digest';
    return undefined;
  } catch (e) {
    return e instanceof InvalidReferenceError || e instanceof Error ? e.message : String(e);
  }
}

/**
 * containers/image rewrites `location + name[len(prefix):]` and fails the whole pull when the
 * result is not canonical. Check every prefix, location and mirror with a representative name.
 */
export function validateRewrites(conf: RegistriesConf, locate: Locator, checks: RewriteChecks = new RewriteChecks()): Diagnostic[] {
  const out: Diagnostic[] = [];
  conf.registries.forEach((reg, i) => validateTableRewrites(reg, i, locate, checks, out));
  return out;
}

/** validateRewrites of table `i` alone, into `out`: a pure function of the table's names (the daemon keeps which tables had nothing to say). */
export function validateTableRewrites(reg: RegistryTable, i: number, locate: Locator, checks: RewriteChecks, out: Diagnostic[]): void {
  const scope = registryScope(reg);
  const wildcard = scope.startsWith('*.');
  if (!wildcard) {
    const p = checks.problemBelow(scope); // usually also its location's: parsed once
    if (p) {
      const at = locate(['registry', i, reg.prefix ? 'prefix' : 'location'], scope);
      const notANamespace = `prefix "${scope}" is not a registry or repository namespace (${p}); no image name`;
      // A well-formed name that normalizes to another (index.docker.io is docker.io): containers/image
      // loads the table and never matches it, and no pull fails for it. Said, not refused (an IDMS
      // for index.docker.io, which OpenShift admits, would be held); its location and mirrors are
      // never rewritten to: nothing more to check.
      if (p === ERR_NOT_CANONICAL) {
        out.push(warning(at, `${notANamespace} can match it, so containers/image (podman, skopeo, CRI-O) never uses this table (its location and mirrors)`));
        return;
      }
      out.push(error(at, `${notANamespace} could match it`));
    }
  }
  // A scope that is itself a repository (quay.io/ns/app) can be pulled as exactly that: the rewrite then appends ":tag".
  // Asked only of an endpoint other than the scope (a scope rewritten to itself stays what it was), so that the
  // usual table, whose location is its prefix, costs one parse and not two.
  let exactRepo: boolean | undefined;
  const isExactRepo = (): boolean => (exactRepo ??= !wildcard && checks.problem(scope) === undefined);
  // The table's location, then each mirror's (j: its index); an endpoint's path is built only for a message.
  for (let j = -1; j < reg.mirrors.length; j++) {
    const location = j < 0 ? reg.location : (reg.mirrors[j] as Endpoint).location;
    if (!location) continue;
    const path = (): TomlPath => (j < 0 ? ['registry', i, 'location'] : ['registry', i, 'mirror', j, 'location']);
    const p = checks.problemBelow(location);
    if (p) {
      out.push(
        error(locate(path(), location), `"${location}" cannot serve images of "${scope}": rewriting "${scope}${SAMPLE}" gives "${location}${SAMPLE}" (${p})`),
      );
    } else if (wildcard && /[:/]/.test(location)) {
      // The rewrite keeps the name's port after the host the wildcard matched: it can follow a bare host only (merge.ts canCarry).
      out.push(
        warning(
          locate(path(), location),
          `names with a port under "${scope}" (host${scope.slice(1)}:PORT/...) would be rewritten to "${location}:PORT/...", which is not a valid reference; containers/image then fails the whole pull`,
        ),
      );
    } else if (location !== scope && isExactRepo() && checks.problem(location) !== undefined) {
      // The pulls that reach this endpoint: the location's all, a mirror's by its pull-from-mirror.
      const { byTag, byDigest } = j < 0 ? { byTag: true, byDigest: true } : mirrorServes(reg, reg.mirrors[j] as Endpoint);
      const rewritten = [byTag ? `"${location}:TAG"` : '', byDigest ? `"${location}@DIGEST"` : ''].filter(Boolean).join(' or ');
      out.push(
        warning(
          locate(path(), location),
          `pulls of exactly "${scope}"${byTag === byDigest ? '' : byTag ? ' by tag' : ' by digest'} would be rewritten to ${rewritten}, which is not a valid reference; containers/image then fails the whole pull`,
        ),
      );
    }
    // Beside the warnings above (both can hold), not instead of them.
    const short = !p && location !== scope && scope !== HUB && !location.includes('/') ? checks.problemBelowShort(location) : undefined;
    if (short !== undefined) {
      out.push(
        warning(
          locate(path(), location),
          `names of one component under "${scope}" (${wildcard ? `host${scope.slice(1)}` : scope}/NAME) would be rewritten to "${location}/NAME", which is not canonical (${location}${SHORT_SAMPLE}: ${short}); containers/image then fails the whole pull: add a namespace to the mirror (e.g. "${location}/library")`,
        ),
      );
    }
  }
}
