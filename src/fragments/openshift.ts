/**
 * OpenShift objects as `oc get -o yaml` or oc-mirror write them:
 * ImageContentSourcePolicy (operator.openshift.io/v1alpha1), ImageDigestMirrorSet and
 * ImageTagMirrorSet (config.openshift.io/v1), the cluster Image config
 * (config.openshift.io/v1, spec.registrySources), several per file (`---`), inside
 * `kind: List` or a typed list (`ImageDigestMirrorSetList`). metadata and status are not read.
 * An unknown field inside `spec` or a mirror entry is an error, as the API server's strict field
 * validation makes it (a typo there loses a setting, e.g. `mirrorsourcePolicy: NeverContactSource`);
 * one beside `spec` is a warning, but a field of spec written there, or no spec, is an error.
 */
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import { error, warning, type DataPath, type Diagnostic, type Location, type Locator, type Severity } from '../core/diagnostic.js';
import { didYouMean, FieldReader, isTable, type Table } from '../core/field-reader.js';
import { type Fragment, type Located, type MirrorMode, type MirrorSet, type ParsedFragment, type SetKind, validateMirrorSet } from './policy.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import { validateConf } from '../registries-conf/validate.js';
import { contributesNothing } from './contribution.js';
import { goYamlScalarHint, goYamlTags, unreadableTagValue } from './go-yaml.js';
import { isValidMirrorSource } from '../reference/scope.js';

type YamlLib = typeof import('yaml');
let yamlLib: YamlLib | undefined;

/**
 * The yaml package, loaded by the first YAML fragment parsed (synchronously: it is CommonJS),
 * not at start: a host with only TOML fragments never holds its ~8 MB.
 */
function yaml(): YamlLib {
  return (yamlLib ??= createRequire(import.meta.url)('yaml') as YamlLib);
}

interface KindSpec {
  readonly apiVersion: string;
  readonly listKey: string;
  readonly mode: MirrorMode;
  readonly hasPolicy: boolean;
}

const SET_KINDS: Readonly<Record<string, KindSpec>> = {
  ImageContentSourcePolicy: { apiVersion: 'operator.openshift.io/v1alpha1', listKey: 'repositoryDigestMirrors', mode: 'digest-only', hasPolicy: false },
  ImageDigestMirrorSet: { apiVersion: 'config.openshift.io/v1', listKey: 'imageDigestMirrors', mode: 'digest-only', hasPolicy: true },
  ImageTagMirrorSet: { apiVersion: 'config.openshift.io/v1', listKey: 'imageTagMirrors', mode: 'tag-only', hasPolicy: true },
};
const POLICY_VALUES: Readonly<Record<string, 'allow' | 'never'>> = { AllowContactingSource: 'allow', NeverContactSource: 'never' };
/**
 * What oc-mirror writes beside its ImageDigestMirrorSet and ImageTagMirrorSet in
 * `cluster-resources/` (v2; v1's `results-*` the same but ClusterCatalog) for the cluster's
 * other operators: catalogs, the update service, the release signatures. Operators copy that
 * directory whole; these say nothing about mirrors, so they are passed over with a warning
 * rather than refused (any other kind stays an error: it may be a typo of one we read).
 */
const OC_MIRROR_COMPANIONS: ReadonlySet<string> = new Set(['CatalogSource', 'ClusterCatalog', 'UpdateService', 'ConfigMap']);
const SUPPORTED = `${[...Object.keys(SET_KINDS), 'Image', 'List'].join(', ')}, or a typed list of one (ImageDigestMirrorSetList)`;

const OBJECT_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
const LIST_FIELDS = ['apiVersion', 'kind', 'metadata', 'items'];
/** config.openshift.io/v1 ImageSpec and RegistrySources (openshift/api config/v1/types_image.go). */
const IMAGE_SPEC_FIELDS = ['allowedRegistriesForImport', 'externalRegistryHostnames', 'additionalTrustedCA', 'registrySources', 'imageStreamImportMode'];
const REGISTRY_SOURCES_FIELDS = ['insecureRegistries', 'blockedRegistries', 'allowedRegistries', 'containerRuntimeSearchRegistries'];

function entryFields(spec: KindSpec): string[] {
  return spec.hasPolicy ? ['source', 'mirrors', 'mirrorSourcePolicy'] : ['source', 'mirrors'];
}

/** Names that belong to another kind: said so, with the right name for this one. */
function specHints(kind: string): Record<string, string> {
  const own = Object.hasOwn(SET_KINDS, kind) ? SET_KINDS[kind] : undefined;
  const hints: Record<string, string> = {};
  for (const [other, spec] of Object.entries(SET_KINDS)) {
    if (other === kind) continue;
    hints[spec.listKey] = `"${spec.listKey}" belongs to ${other}; ${own ? `${kind} lists its entries in "${own.listKey}"` : `${kind} has no mirror entries`}`;
  }
  if (own) hints.registrySources = `"registrySources" belongs to the cluster Image config (kind: Image, config.openshift.io/v1)`;
  return hints;
}

const ENTRY_HINTS: Readonly<Record<string, Record<string, string>>> = {
  ImageContentSourcePolicy: {
    mirrorSourcePolicy:
      'ImageContentSourcePolicy has no mirrorSourcePolicy (its source is always contactable); use an ImageDigestMirrorSet (config.openshift.io/v1) for NeverContactSource',
  },
};

/** Aliases are legitimate YAML, but a few are plenty for policy objects; more is a billion-laughs attempt. */
const MAX_ALIASES = 100;

type Ranged = { range?: [number, number, number] } | undefined;

function yamlLocator(doc: Document, lines: LineCounter, file: string): Locator {
  // The collection of the last path located: an entry's source and each of its mirrors share
  // one, and each is then found in one step instead of walking down from the document again.
  let parentPath: DataPath = [];
  let parent: unknown = doc.contents;
  const nodeAt = (path: DataPath): Ranged => {
    const last = path.length - 1;
    if (last < 0) return doc.contents as Ranged;
    if (parentPath.length !== last || parentPath.some((key, i) => key !== path[i])) {
      parentPath = path.slice(0, last);
      parent = doc.getIn(parentPath, true);
    }
    return (yaml().isCollection(parent) ? parent.get(path[last], true) : undefined) as Ranged;
  };
  return (path: DataPath) => {
    // Walk up the path until a node with a position is found.
    for (let n = path.length; n >= 0; n--) {
      const node = n === path.length ? nodeAt(path) : (doc.getIn(path.slice(0, n), true) as Ranged);
      if (node && node.range) {
        const pos = lines.linePos(node.range[0]);
        return { file, line: pos.line, col: pos.col };
      }
    }
    return { file };
  };
}

/** Where the key of the field at `path` is written (its value may start on the next line). */
function yamlKeyLocator(doc: Document, lines: LineCounter, locate: Locator): (path: DataPath) => Location {
  return (path) => {
    const { isMap, isScalar } = yaml();
    const parent = doc.getIn(path.slice(0, -1), true);
    const name = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === name);
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      if (range) {
        const pos = lines.linePos(range[0]);
        return { ...locate([]), line: pos.line, col: pos.col };
      }
    }
    return locate(path);
  };
}

type KeyLocator = (path: DataPath) => Location;

/** Fields outside `known`: an error inside spec and entries, a warning beside spec; with the likely intended name. */
function unknownFields(
  obj: Table,
  known: readonly string[],
  path: DataPath,
  where: string,
  severity: Severity,
  r: FieldReader,
  keyAt: KeyLocator,
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const hint = Object.hasOwn(hints, key) ? `; ${hints[key]}` : didYouMean(key, known);
    const at = keyAt([...path, key]);
    r.diagnostics.push(
      severity === 'error'
        ? error(at, `unknown field "${key}" in ${where}${hint}; known fields: ${known.join(', ')}`)
        : warning(at, `unknown field "${key}" in ${where} (ignored)${hint}`),
    );
  }
}

/**
 * The fields that are not null. The API server prunes a null optional field before it validates
 * (`mirrorSourcePolicy:` left empty is no policy, `insecureRegistries:` no list), so a null
 * reads as absent; a required one is then missing, as it is there.
 */
function withoutNulls(t: Table): Table {
  return Object.values(t).includes(null) ? Object.fromEntries(Object.entries(t).filter(([, v]) => v !== null)) : t;
}

interface Collected {
  mirrorSets: MirrorSet[];
  insecure: Located<string>[];
  blocked: Located<string>[];
  conf: RegistriesConf;
  confOrigins: Record<string, Location>;
  objects: Located<string>[];
  /** oc-mirror's companion objects passed over (OC_MIRROR_COMPANIONS): a file of only those has said why it gives nothing. */
  companions: number;
}

/** The apiVersion of a supported object kind; undefined for any other kind. */
function apiVersionOf(kind: string): string | undefined {
  if (Object.hasOwn(SET_KINDS, kind)) return SET_KINDS[kind]?.apiVersion;
  return kind === 'Image' ? 'config.openshift.io/v1' : undefined;
}

/** For a typed list of a supported kind (`ImageDigestMirrorSetList`), the kind of its items. */
function typedListItemKind(kind: string): string | undefined {
  if (!kind.endsWith('List')) return undefined;
  const item = kind.slice(0, -'List'.length);
  return apiVersionOf(item) === undefined ? undefined : item;
}

/**
 * `kind: List`, or a typed list as the API serves it and client-go writes it
 * (`ImageDigestMirrorSetList`), whose items may leave out kind and apiVersion: they then take
 * the list's, as kubectl's unstructured decoder gives them.
 */
function readList(obj: Table, kind: string, itemKind: string, path: DataPath, r: FieldReader, locate: Locator, keyAt: KeyLocator, out: Collected): void {
  unknownFields(obj, LIST_FIELDS, path, itemKind === '' ? 'a List' : kind, 'warning', r, keyAt);
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : undefined; // a wrong type is said already
  if (itemKind !== '' && apiVersion !== apiVersionOf(itemKind)) {
    r.error([...path, 'apiVersion'], `${kind} must have apiVersion "${apiVersionOf(itemKind)}", not ${apiVersion === undefined ? 'none' : `"${apiVersion}"`}`);
    return;
  }
  r.tables(obj, 'items', path).forEach((item, i) => {
    const typed = itemKind !== '' && item.kind === undefined && item.apiVersion === undefined ? { ...item, kind: itemKind, apiVersion } : item;
    readObject(typed, [...path, 'items', i], r, locate, keyAt, out);
  });
}

function readObject(obj: Table, path: DataPath, r: FieldReader, locate: Locator, keyAt: KeyLocator, out: Collected): void {
  const kind = r.string(obj, 'kind', path);
  const apiVersion = r.string(obj, 'apiVersion', path);
  if (kind === undefined) {
    r.error(path, `not an OpenShift object: no "kind" (supported kinds: ${SUPPORTED})`);
    return;
  }
  const itemKind = kind === 'List' ? '' : typedListItemKind(kind);
  if (itemKind !== undefined) {
    readList(obj, kind, itemKind, path, r, locate, keyAt, out);
    return;
  }
  const spec = Object.hasOwn(SET_KINDS, kind) ? SET_KINDS[kind] : undefined; // own keys only: "constructor" is no kind
  const expectedApi = apiVersionOf(kind);
  if (expectedApi === undefined && OC_MIRROR_COMPANIONS.has(kind)) {
    r.warn([...path, 'kind'], `${kind} is not a mirror policy (oc-mirror writes it beside its ImageDigestMirrorSet for the cluster): ignored`);
    out.companions++;
    return;
  }
  if (expectedApi === undefined) {
    r.error([...path, 'kind'], `unsupported kind "${kind}" (supported kinds: ${SUPPORTED})`);
    return;
  }
  if (apiVersion !== expectedApi) {
    r.error([...path, 'apiVersion'], `${kind} must have apiVersion "${expectedApi}", not ${apiVersion === undefined ? 'none' : `"${apiVersion}"`}`);
    return;
  }
  recordName(obj, kind, path, locate, out, r);
  const specFields = spec ? [spec.listKey] : IMAGE_SPEC_FIELDS;
  unknownFields(obj, [...OBJECT_FIELDS, ...specFields], path, kind, 'warning', r, keyAt);
  misplacedSpecFields(obj, specFields, path, r, keyAt);
  if (obj.spec === undefined || obj.spec === null) r.error(path, `${kind} needs a "spec" (the API server refuses an object without one)`);
  const rawSpec = (obj.spec === null ? undefined : r.table(obj, 'spec', path)) ?? {};
  const specTable = withoutNulls(rawSpec);
  const specPath = [...path, 'spec'];
  unknownFields(rawSpec, specFields, specPath, `${kind} spec`, 'error', r, keyAt, specHints(kind));
  if (!spec) {
    warnUnlessCluster(obj, path, r);
    readImageConfig(specTable, specPath, r, locate, keyAt, out);
    return;
  }
  const entries = specTable[spec.listKey];
  if (entries === null || entries === undefined) return; // an object with no entries mirrors nothing
  r.tables(specTable, spec.listKey, specPath).forEach((rawEntry, i) => {
    const entry = withoutNulls(rawEntry);
    const epath = [...specPath, spec.listKey, i];
    unknownFields(rawEntry, entryFields(spec), epath, `an entry of ${spec.listKey}`, 'error', r, keyAt, ENTRY_HINTS[kind]);
    const source = r.string(entry, 'source', epath);
    if (source === undefined) {
      r.error(epath, `${spec.listKey} entry needs a "source"`);
      return;
    }
    const mirrors = r.stringArray(entry, 'mirrors', epath) ?? [];
    if (spec.hasPolicy) repeatedMirrors(mirrors, source, kind, [...epath, 'mirrors'], r);
    let sourcePolicy: 'allow' | 'never' | undefined;
    if (spec.hasPolicy) {
      const p = r.string(entry, 'mirrorSourcePolicy', epath);
      if (p !== undefined) {
        sourcePolicy = Object.hasOwn(POLICY_VALUES, p) ? POLICY_VALUES[p] : undefined;
        if (!sourcePolicy) r.error([...epath, 'mirrorSourcePolicy'], `mirrorSourcePolicy must be NeverContactSource or AllowContactingSource, not "${p}"`);
      }
    }
    const set: MirrorSet = {
      source,
      mirrors,
      mode: spec.mode,
      kind: kind as SetKind,
      origin: locate([...epath, 'source']),
      mirrorOrigins: mirrors.map((_, j) => locate([...epath, 'mirrors', j])),
      sourcePolicy,
    };
    r.diagnostics.push(
      ...validateMirrorSet(set, (needle) => {
        const j = mirrors.indexOf(needle);
        return locate(needle === source || j < 0 ? [...epath, 'source'] : [...epath, 'mirrors', j]);
      }),
    );
    out.mirrorSets.push(set);
  });
}

/**
 * A spec field written beside spec (`spec:` forgotten, or the field not indented under it): an
 * error, not the warning of other unknown fields, since its entries would be lost without a word
 * of the API server's (which refuses the object).
 */
function misplacedSpecFields(obj: Table, specFields: readonly string[], path: DataPath, r: FieldReader, keyAt: KeyLocator): void {
  for (const key of specFields) {
    if (!Object.hasOwn(obj, key)) continue;
    r.diagnostics.push(error(keyAt([...path, key]), `"${key}" belongs under spec: (indent it below a "spec:" line); as it is, its entries are not read`));
  }
}

/**
 * IDMS and ITMS mirrors are `listType=set`: the API server refuses a mirror listed twice. (An
 * ICSP's are a plain list, and MCO merges a repeat away.)
 */
function repeatedMirrors(mirrors: readonly string[], source: string, kind: string, path: DataPath, r: FieldReader): void {
  const seen = new Set<string>();
  mirrors.forEach((m, i) => {
    if (seen.has(m))
      r.error(
        [...path, i],
        `mirror ${JSON.stringify(m)} is listed twice for source ${JSON.stringify(source)} (the API server refuses a repeated mirror in an ${kind}); list it once`,
      );
    seen.add(m);
  });
}

/** metadata.name, when metadata is a mapping (it is otherwise not read, so a malformed one says nothing). */
function metadataName(obj: Table): unknown {
  const meta = obj.metadata;
  return meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Table).name : undefined;
}

/**
 * The object's kind and metadata.name, where the name is written (merge/conflicts.ts: a name
 * defined twice). An object without a name is applied all the same, but said: the API server
 * refuses it, so it is not what a cluster would hold, and no repeat of it can be found.
 */
function recordName(obj: Table, kind: string, path: DataPath, locate: Locator, out: Collected, r: FieldReader): void {
  const name = metadataName(obj);
  if (typeof name === 'string' && name !== '') out.objects.push({ value: `${kind} ${JSON.stringify(name)}`, origin: locate([...path, 'metadata', 'name']) });
  else
    r.warn(
      obj.metadata === undefined ? [...path, 'kind'] : [...path, 'metadata'],
      `${kind} has no metadata.name (the API server requires one); applied on this host all the same`,
    );
}

/**
 * OpenShift reads only the Image named "cluster" (any other is ignored there). Applied here all
 * the same, since it was put in the policy directory, but said: the object would not do on a
 * cluster what it does on this host. metadata is otherwise not read, so a malformed one says nothing.
 */
function warnUnlessCluster(obj: Table, path: DataPath, r: FieldReader): void {
  const name = metadataName(obj);
  if (typeof name === 'string' && name !== 'cluster') {
    r.warn([...path, 'metadata', 'name'], `OpenShift reads only the Image named "cluster", not ${JSON.stringify(name)}; applied on this host all the same`);
  }
}

/** The cluster image config's registrySources (config.openshift.io/v1 Image). */
function readImageConfig(spec: Table, path: DataPath, r: FieldReader, locate: Locator, keyAt: KeyLocator, out: Collected): void {
  const rawSources = r.table(spec, 'registrySources', path);
  if (!rawSources) return;
  const sources = withoutNulls(rawSources);
  const sp = [...path, 'registrySources'];
  unknownFields(rawSources, REGISTRY_SOURCES_FIELDS, sp, 'Image spec.registrySources', 'error', r, keyAt);
  for (const [key, list] of [
    ['insecureRegistries', out.insecure],
    ['blockedRegistries', out.blocked],
  ] as const) {
    (readRegistryList(sources, key, sp, r) ?? []).forEach((value, i) => list.push({ value, origin: locate([...sp, key, i]) }));
  }
  readRegistryList(sources, 'allowedRegistries', sp, r);
  const search = r.stringArray(sources, 'containerRuntimeSearchRegistries', sp);
  if (search && isSearchListAccepted(search, [...sp, 'containerRuntimeSearchRegistries'], r)) {
    out.conf.unqualifiedSearchRegistries = search;
    out.confOrigins['unqualified-search-registries'] = locate([...sp, 'containerRuntimeSearchRegistries']);
    // Validate here, where each entry's position is known.
    r.diagnostics.push(
      ...validateConf({ unqualifiedSearchRegistries: search, registries: [] }, (path) => locate([...sp, 'containerRuntimeSearchRegistries', ...path.slice(1)])),
    );
  }
  allowedRegistries(sources, sp, r, keyAt);
}

/** RegistrySources' MaxItems and items:MaxLength for insecure, blocked and allowed registries. */
const MAX_REGISTRY_ENTRIES = 1024;
const MAX_REGISTRY_LENGTH = 256;

/**
 * insecureRegistries, blockedRegistries or allowedRegistries, checked as the API server checks
 * them (openshift/api config/v1 RegistrySources): at most 1024 entries, each 1 to 256 characters
 * matching its CEL pattern, the IDMS source pattern (host[:port][/path] or *.host). Looser
 * values (a tag, a digest, a space) pass runtime-utils, but no cluster admits them.
 */
function readRegistryList(sources: Table, key: string, sp: DataPath, r: FieldReader): string[] | undefined {
  const values = r.stringArray(sources, key, sp);
  if (!values) return undefined;
  if (values.length > MAX_REGISTRY_ENTRIES)
    r.error(
      [...sp, key],
      `${key} lists ${values.length} registries; the API server takes at most ${MAX_REGISTRY_ENTRIES} (listing a common parent scope or a *.domain covers several)`,
    );
  values.forEach((value, i) => {
    const problem = registryEntryProblem(value);
    if (problem !== undefined) r.error([...sp, key, i], `invalid entry in ${key} ${JSON.stringify(value)}: ${problem}`);
  });
  return values;
}

/** Why the API server refuses a registrySources entry, with the fix when it is plain; undefined when it takes it. */
function registryEntryProblem(value: string): string | undefined {
  if (value.length > MAX_REGISTRY_LENGTH) return `it is ${value.length} characters long; the API server takes at most ${MAX_REGISTRY_LENGTH}`;
  if (isValidMirrorSource(value)) return undefined;
  if (value === '') return 'an empty entry (the API server refuses one); remove it';
  const rule = 'the API server takes hostname[:port][/path] or *.hostname';
  if (value.startsWith('*.') && /[:/]/.test(value)) return `${rule}: a wildcard names hosts only, with no port or path`;
  const digest = value.indexOf('@');
  if (digest > 0) return `${rule}, without a tag or digest; drop ${JSON.stringify(value.slice(digest))}`;
  const tag = /\/[^/]*(:[^/:]*)$/.exec(value);
  if (tag?.[1] !== undefined) return `${rule}, without a tag or digest; drop ${JSON.stringify(tag[1])}`;
  if (value.endsWith('/')) return `${rule}; drop the trailing "/"`;
  const slash = value.indexOf('/');
  if (slash > 0 && /[A-Z]/.test(value.slice(slash))) return `${rule}; path components are lowercase`;
  return rule;
}

/** allowedRegistries is policy.json's: ignored here, but never beside blockedRegistries (a CEL rule of RegistrySources: no cluster runs with both). */
function allowedRegistries(sources: Table, sp: DataPath, r: FieldReader, keyAt: KeyLocator): void {
  if (sources.allowedRegistries === undefined) return;
  if (sources.blockedRegistries === undefined) {
    r.warn([...sp, 'allowedRegistries'], 'allowedRegistries belongs to policy.json (signature policy), not registries.conf; ignored');
    return;
  }
  r.diagnostics.push(
    error(
      keyAt([...sp, 'allowedRegistries']),
      'only one of blockedRegistries or allowedRegistries may be set (the API server refuses both); remove allowedRegistries, which belongs to policy.json and is not rendered here',
    ),
  );
}

/**
 * containerRuntimeSearchRegistries as the API server takes it: at least one entry (MinItems=1)
 * and none twice (listType=set). An empty list would otherwise replace the host's own search
 * registries with none, which no cluster object can ask for.
 */
function isSearchListAccepted(search: readonly string[], path: DataPath, r: FieldReader): boolean {
  if (search.length === 0) {
    r.error(
      path,
      "containerRuntimeSearchRegistries must list at least one registry (the API server refuses an empty list); remove the field to keep the host's search registries",
    );
    return false;
  }
  const seen = new Set<string>();
  let ok = true;
  search.forEach((value, i) => {
    if (seen.has(value)) {
      r.error([...path, i], `containerRuntimeSearchRegistries lists ${JSON.stringify(value)} twice (the API server refuses a repeated entry)`);
      ok = false;
    }
    seen.add(value);
  });
  return ok;
}

/**
 * Aliases with no anchor before them, as errors at the alias. The usual one is a wildcard
 * written unquoted (`- source: *.example.com`): YAML reads `*` as the start of an alias.
 * One pass over the document, so that many aliases cost no more than one.
 */
function unresolvedAliases(doc: Document, lines: LineCounter, file: string, text: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!text.includes('*')) return out; // every alias starts with "*": a text without one has none to look for
  const anchors = new Set<string>();
  const { isAlias, isNode, visit } = yaml();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        if (anchors.has(node.source)) return;
        const pos = node.range ? lines.linePos(node.range[0]) : undefined;
        const at = { file, ...(pos ? { line: pos.line, col: pos.col } : {}) };
        const text = `*${node.source}`;
        out.push(
          error(
            at,
            node.source.startsWith('.')
              ? `${text} is read as a YAML alias (an unquoted "*" starts one); quote the wildcard: "${text}"`
              : `invalid YAML: ${text} is an alias with no anchor &${node.source} before it; if it is a value, quote it: "${text}"`,
          ),
        );
      } else if (isNode(node) && node.anchor) anchors.add(node.anchor);
    },
  });
  return out;
}

/** The source of the first scalar at or after `offset` (the value an explicit tag ending there is on). */
function scalarAfter(doc: Document, offset: number): string | undefined {
  let found: string | undefined;
  yaml().visit(doc, {
    Scalar: (_key, node) => {
      if (node.range && node.range[0] >= offset) {
        found = node.source ?? String(node.value);
        return yaml().visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/**
 * A %YAML directive other than 1.1, at its line: go-yaml (libyaml) reads 1.1 only and refuses
 * the document ("found incompatible YAML document"). A 1.1 document is read as every document is.
 */
function refusedYamlVersion(text: string, doc: Document, lines: LineCounter, file: string): Diagnostic | undefined {
  const version = doc.directives?.yaml;
  if (!version?.explicit) return undefined;
  const unsupported = doc.warnings.some((w) => w.message.startsWith('Unsupported YAML version'));
  if (version.version === '1.1' && !unsupported) return undefined;
  // This document's directive: the last one before its start.
  const offset = Math.max(0, text.lastIndexOf('%YAML', doc.range?.[0] ?? text.length));
  const directive = text.slice(offset).split(/\r?\n/, 1)[0]?.trim() ?? '%YAML';
  const pos = lines.linePos(offset);
  return error(
    { file, line: pos.line, col: pos.col },
    `${JSON.stringify(directive).slice(1, -1)}: kubectl and oc read YAML 1.1 only (go-yaml refuses this document); remove the directive`,
  );
}

/**
 * JSON values one after another (`oc get -o json >> file`): kubectl's decoder reads a JSON
 * stream, the yaml package one value a document, and says so in a cascade of token errors.
 * One error at the second value instead, with the fix.
 */
function jsonStreamError(text: string, doc: Document, file: string): Diagnostic | undefined {
  const first = doc.errors[0];
  if (first?.code !== 'UNEXPECTED_TOKEN' || !/^\s*[[{]/.test(text)) return undefined;
  const at = first.pos[0];
  if (text[at] !== '{' && text[at] !== '[') return undefined;
  const before = text.slice(Math.max(0, at - 200), at).trimEnd();
  if (!before.endsWith('}') && !before.endsWith(']')) return undefined;
  const pos = first.linePos?.[0];
  return error(
    { file, ...(pos ? { line: pos.line, col: pos.col } : {}) },
    'another JSON value after the first: kubectl reads several in a row, this reader one a file; put the objects in the "items" of one List ({"apiVersion": "v1", "kind": "List", "items": [...]}, as "oc get -o json" writes several) or in a file each',
  );
}

/** The yaml library's first message line, without its own " at line L, column C:" (we print the position first). */
function yamlMessage(message: string, code: string): string {
  return (message.split('\n')[0] ?? code).replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * A byte order mark right after a `---` line (files joined, one saved by a Windows editor):
 * kubectl parses each document on its own, so to it that is a stream's leading mark, skipped;
 * the yaml package would make it part of the first key ("\uFEFFapiVersion").
 */
const BOM_AFTER_SEPARATOR = /^(---[ \t]*(?:#[^\n]*)?\r?\n)\uFEFF/gm;

export function parseOpenShiftFragment(fileText: string, file: string): ParsedFragment {
  const text = fileText.includes('\uFEFF') ? fileText.replace(BOM_AFTER_SEPARATOR, '$1') : fileText;
  const { isMap, LineCounter, parseAllDocuments } = yaml();
  const lines = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const out: Collected = { mirrorSets: [], insecure: [], blocked: [], conf: { registries: [] }, confOrigins: {}, objects: [], companions: 0 };
  // merge: `<<` merge keys, which YAML 1.2 dropped but go-yaml (hence kubectl and oc) still reads.
  // resolveKnownTags: false: go-yaml has no !!omap, !!set or !!pairs, and the yaml package's would
  // turn a mapping into a Map whose entries no field reader sees. schema: the core schema, with
  // go-yaml's YAML 1.1 scalars (go-yaml.ts), for every document whatever its %YAML directive.
  const docs = parseAllDocuments(text, {
    lineCounter: lines,
    logLevel: 'silent',
    uniqueKeys: true,
    prettyErrors: true,
    merge: true,
    resolveKnownTags: false,
    schema: 'core',
    customTags: goYamlTags,
  });
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, index) => {
    const stream = jsonStreamError(text, doc, file);
    for (const e of stream ? [] : doc.errors) {
      const pos = e.linePos?.[0];
      diagnostics.push(error({ file, ...(pos ? { line: pos.line, col: pos.col } : {}) }, `invalid YAML: ${yamlMessage(e.message, e.code)}`));
    }
    if (stream) diagnostics.push(stream);
    let unreadable = false;
    for (const w of doc.warnings) {
      const pos = w.linePos?.[0];
      const at = { file, ...(pos ? { line: pos.line, col: pos.col } : {}) };
      const message = yamlMessage(w.message, w.code);
      const refused = unreadableTagValue(message, () => scalarAfter(doc, w.pos[1]));
      unreadable ||= refused !== undefined;
      diagnostics.push(refused === undefined ? warning(at, `YAML: ${message}`) : error(at, `invalid YAML: ${refused}`));
    }
    const refusedVersion = refusedYamlVersion(text, doc, lines, file);
    if (refusedVersion) {
      diagnostics.push(refusedVersion);
      return;
    }
    if (doc.errors.length > 0 || unreadable) return;
    const locate = yamlLocator(doc, lines, file);
    const unresolved = unresolvedAliases(doc, lines, file, text);
    if (unresolved.length > 0) {
      diagnostics.push(...unresolved);
      return;
    }
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (e) {
      diagnostics.push(error(locate([]), `invalid YAML: ${(e as Error).message}`));
      return;
    }
    if (data === null || data === undefined) return; // an empty (or comment-only) document between `---` lines
    if (index > 0 && doc.directives?.docStart !== true) {
      // kubectl splits a file at its --- lines and reads the first document of each part: this one it drops.
      diagnostics.push(error(locate([]), 'a document after "..." with no "---" line before it: kubectl and oc would not read it; put a "---" line before it'));
      return;
    }
    if (!isMap(doc.contents) || !isTable(data)) {
      diagnostics.push(
        error(locate([]), `expected an OpenShift object (a mapping with apiVersion and kind), found ${Array.isArray(data) ? 'a sequence' : 'a scalar'}`),
      );
      return;
    }
    const r = new FieldReader(locate, diagnostics, goYamlScalarHint);
    readObject(data, [], r, locate, yamlKeyLocator(doc, lines, locate), out);
  });
  const { companions, ...collected } = out;
  const fragment: Fragment = { file, ...collected };
  return { fragment, diagnostics: [...diagnostics, ...(companions > 0 ? [] : contributesNothing(fragment, diagnostics))] };
}
