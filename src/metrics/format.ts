/**
 * The daemon's metrics as text for node_exporter's textfile collector (Prometheus text
 * exposition format 0.0.4), pure. Names carry the `mirror_policyd_` prefix, base units
 * (seconds), counters end in `_total`; each family has one HELP and one TYPE line; label
 * values are escaped (backslash, double quote, newline). The order is deterministic, as
 * client_golang gathers: families by name, samples by label value. An unknown value is
 * left out (never `NaN` or `undefined`), and a family without samples is left out whole.
 * No sample timestamps: the textfile collector refuses them.
 *
 * The writer must replace the `.prom` file atomically (temp file + rename): the collector
 * may read it at any moment.
 */
import { byteOrderCompare } from '../core/byte-order.js';

export interface MetricsSnapshot {
  mirrors: Array<{
    /** endpointKey(host, insecure), e.g. "https://m1:5000". */
    endpoint: string;
    /** undefined: not probed yet. */
    up: boolean | undefined;
    probeLatencySeconds?: number;
    /** Unix time of the last probe (or pull) that reached a verdict on it, in seconds. */
    lastProbeTimestampSeconds?: number;
    demoted: boolean;
  }>;
  rendersTotal: number;
  renderErrorsTotal: number;
  /** Renders that changed the file. */
  writesTotal?: number;
  /** Rewrites of the file caused by a mirror demoted or restored (health-aware order). */
  healthRewritesTotal?: number;
  probeRoundsTotal?: number;
  fragments: { valid: number; held: number; invalid: number };
  lastSuccessfulRenderTimestampSeconds?: number;
  driftRestoresTotal: number;
  demotionsTotal: number;
  info?: { version: string };
  /** Whether the daemon is degraded (the `status` state): rendered 0 or 1 once given. */
  degraded?: boolean;
  /** false while the last reload refused the config file or failed (the previous settings stay in effect). */
  configLastReloadSuccessful?: boolean;
  /** Reloads finished, by how they ended (ReloadOutcome): give every outcome, 0 included. */
  reloads?: Readonly<Record<string, number>>;
  /** The fragments held or left out (valid ones are not listed): at most BROKEN_FRAGMENT_SERIES are rendered. */
  brokenFragments?: ReadonlyArray<{ readonly file: string; readonly state: 'held' | 'invalid' }>;
  /** Present while the local mirror is on (listening or not). */
  localMirror?: LocalMirrorFigures;
}

/** The local mirror's figures (src/local-mirror/counters.ts counts them). */
export interface LocalMirrorFigures {
  listening: boolean;
  requests?: Readonly<Record<string, number>>;
  responses?: Readonly<Record<string, number>>;
  bytesSent?: number;
  sources?: Readonly<Record<string, { readonly ok: number; readonly absent: number; readonly failed: number }>>;
  midBlobFallbacks?: number;
  digestMismatches?: number;
  deadlineAnswers?: number;
  errors?: number;
  inFlight?: number;
  waiting?: number;
}

export const METRIC_PREFIX = 'mirror_policyd_';

/**
 * How many broken fragments get a series of their own: enough to name them in an alert, few
 * enough that a bad sync breaking 10 000 fragments does not make 10 000 series
 * (`mirror_policyd_fragments` counts them all).
 */
export const BROKEN_FRAGMENT_SERIES = 100;

type MetricType = 'counter' | 'gauge';

interface Sample {
  readonly labels: ReadonlyArray<readonly [string, string]>;
  readonly value: number;
}

interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: Sample[];
}

/** A label value as the format wants it: `\` → `\\`, `"` → `\"`, newline → `\n`; lone surrogates replaced (the file is UTF-8). */
export function escapeLabelValue(v: string): string {
  return v.toWellFormed().replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** HELP text: `\` → `\\`, newline → `\n`. */
function escapeHelp(v: string): string {
  return v.toWellFormed().replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

/** A sample value: shortest round-trip decimal (Go's ParseFloat reads every form JavaScript prints). */
function formatValue(v: number): string {
  return Object.is(v, -0) ? '0' : String(v);
}

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) {
    const labels = s.labels.length > 0 ? `{${s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}` : '';
    lines.push(`${f.name}${labels} ${formatValue(s.value)}`);
  }
  return lines.join('\n');
}

function labelKey(s: Sample): string {
  return s.labels.map(([, v]) => v).join('\u0000');
}

export function renderMetrics(s: MetricsSnapshot): string {
  const families: Family[] = [];
  const family = (name: string, type: MetricType, help: string): Family => {
    const f: Family = { name: `${METRIC_PREFIX}${name}`, type, help, samples: [] };
    families.push(f);
    return f;
  };
  /** Adds a sample when its value is known: finite, and for counters not negative. */
  const add = (f: Family, value: number | undefined, labels: ReadonlyArray<readonly [string, string]> = []): void => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    if (f.type === 'counter' && value < 0) return;
    f.samples.push({ labels, value });
  };

  const build = family('build_info', 'gauge', 'mirror-policyd build information; always 1.');
  if (s.info) add(build, 1, [['version', s.info.version]]);

  const up = family('mirror_up', 'gauge', 'Whether the last probe (GET /v2/) of the mirror endpoint succeeded (1) or failed (0); absent until probed.');
  const latency = family('mirror_probe_latency_seconds', 'gauge', 'Duration of the last successful probe of the mirror endpoint, in seconds.');
  const lastProbe = family('mirror_last_probe_timestamp_seconds', 'gauge', 'Unix time of the last probe of the mirror endpoint, in seconds.');
  const demoted = family(
    'mirror_demoted',
    'gauge',
    'Whether the mirror endpoint is listed after the healthy mirrors (health-aware order) (1) or in its configured place (0).',
  );
  // One series per endpoint (the first entry wins): a duplicate would make the collector
  // refuse the whole scrape. Compared as written (lone surrogates replaced).
  const seen = new Set<string>();
  for (const m of s.mirrors) {
    const endpoint = m.endpoint.toWellFormed();
    if (seen.has(endpoint)) continue;
    seen.add(endpoint);
    const labels = [['endpoint', endpoint]] as const;
    if (m.up !== undefined) add(up, m.up ? 1 : 0, labels);
    if (m.probeLatencySeconds !== undefined && m.probeLatencySeconds >= 0) add(latency, m.probeLatencySeconds, labels);
    if (m.lastProbeTimestampSeconds !== undefined && m.lastProbeTimestampSeconds > 0) add(lastProbe, m.lastProbeTimestampSeconds, labels);
    add(demoted, m.demoted ? 1 : 0, labels);
  }

  add(
    family('renders_total', 'counter', 'Renders (each a full re-read of the policy directory), including those that changed nothing or failed.'),
    s.rendersTotal,
  );
  add(family('render_errors_total', 'counter', 'Renders that failed (invalid result or write error).'), s.renderErrorsTotal);
  add(family('writes_total', 'counter', 'Renders that changed registries.conf (each ran the after-render commands).'), s.writesTotal);
  add(
    family('health_rewrites_total', 'counter', 'Rewrites of registries.conf because a mirror was demoted or restored (health-aware order).'),
    s.healthRewritesTotal,
  );
  add(family('probe_rounds_total', 'counter', 'Rounds of background probes of every mirror endpoint.'), s.probeRoundsTotal);
  const frags = family('fragments', 'gauge', 'Policy fragments by state: valid, held (last valid content kept in effect), invalid (never valid, left out).');
  add(frags, s.fragments.valid, [['state', 'valid']]);
  add(frags, s.fragments.held, [['state', 'held']]);
  add(frags, s.fragments.invalid, [['state', 'invalid']]);
  add(
    family('last_successful_render_timestamp_seconds', 'gauge', 'Unix time of the last successful render, in seconds.'),
    s.lastSuccessfulRenderTimestampSeconds,
  );
  add(family('drift_restores_total', 'counter', 'Hand edits of the managed file undone by restoring the render.'), s.driftRestoresTotal);
  add(family('demotions_total', 'counter', 'Times a mirror endpoint was demoted (listed after the healthy mirrors).'), s.demotionsTotal);

  if (s.degraded !== undefined)
    add(family('degraded', 'gauge', 'Whether the daemon is degraded (1; `mirror-policyd status` says why) or healthy (0).'), s.degraded ? 1 : 0);
  if (s.configLastReloadSuccessful !== undefined)
    add(
      family(
        'config_last_reload_successful',
        'gauge',
        'Whether the last reload took the config file (1; also before any reload) or refused it or failed (0: the previous settings stay, a restart would fail).',
      ),
      s.configLastReloadSuccessful ? 1 : 0,
    );
  const reloads = family('reloads_total', 'counter', 'Reloads (SIGHUP) finished, by outcome: applied, refused (config file), not-rendered, failed, stopped.');
  for (const [outcome, n] of Object.entries(s.reloads ?? {})) add(reloads, n, [['outcome', outcome]]);
  addBrokenFragments(s.brokenFragments ?? [], family, add);

  if (s.localMirror) addLocalMirror(s.localMirror, family, add);

  const out = families
    .filter((f) => f.samples.length > 0)
    .sort((a, b) => byteOrderCompare(a.name, b.name))
    .map((f) => renderFamily({ ...f, samples: [...f.samples].sort((a, b) => byteOrderCompare(labelKey(a), labelKey(b))) }));
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

type FamilyMaker = (name: string, type: MetricType, help: string) => Family;
type Adder = (f: Family, value: number | undefined, labels?: ReadonlyArray<readonly [string, string]>) => void;

/** One series per held or invalid fragment (the first entry of a name wins), the first BROKEN_FRAGMENT_SERIES in byte order. */
function addBrokenFragments(broken: NonNullable<MetricsSnapshot['brokenFragments']>, family: FamilyMaker, add: Adder): void {
  const f = family(
    'fragment_broken',
    'gauge',
    `A policy fragment held at its last valid content or left out (always 1, absent once valid; at most ${BROKEN_FRAGMENT_SERIES} fragments, the first by name).`,
  );
  const byFile = new Map<string, 'held' | 'invalid'>();
  for (const b of broken) {
    const file = b.file.toWellFormed();
    if (!byFile.has(file)) byFile.set(file, b.state);
  }
  const files = [...byFile.keys()].sort(byteOrderCompare).slice(0, BROKEN_FRAGMENT_SERIES);
  for (const file of files)
    add(f, 1, [
      ['file', file],
      ['state', byFile.get(file) ?? 'invalid'],
    ]);
}

/** The local mirror's families: one sample per key of each record, labelled by it. */
function addLocalMirror(m: LocalMirrorFigures, family: FamilyMaker, add: Adder): void {
  add(family('local_mirror_up', 'gauge', 'Whether the local mirror listens (1) or is on but could not bind its address (0).'), m.listening ? 1 : 0);
  const perKey = (name: string, help: string, label: string, values: Readonly<Record<string, number>> | undefined): void => {
    const f = family(name, 'counter', help);
    for (const [k, v] of Object.entries(values ?? {})) add(f, v, [[label, k]]);
  };
  perKey('local_mirror_requests_total', 'Requests to the local mirror by route (base, manifests, blobs; refused: not a route it serves).', 'route', m.requests);
  perKey('local_mirror_responses_total', 'Answers of the local mirror by HTTP status code.', 'code', m.responses);
  const sources = family(
    'local_mirror_source_requests_total',
    'counter',
    'Upstream requests of the local mirror by source endpoint and outcome (ok; absent: 404 or forbidden; failed: counted against its health).',
  );
  for (const [endpoint, outcomes] of Object.entries(m.sources ?? {})) {
    for (const outcome of ['ok', 'absent', 'failed'] as const)
      add(sources, outcomes[outcome], [
        ['endpoint', endpoint.toWellFormed()],
        ['outcome', outcome],
      ]);
  }
  add(family('local_mirror_sent_bytes_total', 'counter', 'Bytes of manifests and blobs the local mirror sent to clients.'), m.bytesSent);
  add(family('local_mirror_mid_blob_fallbacks_total', 'counter', 'Blobs whose source failed mid-stream, finished from another source.'), m.midBlobFallbacks);
  add(
    family('local_mirror_digest_mismatches_total', 'counter', 'Blobs whose content did not match their digest: the client connection was cut.'),
    m.digestMismatches,
  );
  add(
    family('local_mirror_deadline_answers_total', 'counter', 'Requests answered with an error because no source served them in the time allowed.'),
    m.deadlineAnswers,
  );
  add(family('local_mirror_errors_total', 'counter', 'Answers of the local mirror that were not the content asked for (4xx/5xx, cut connections).'), m.errors);
  add(family('local_mirror_in_flight_requests', 'gauge', 'Requests the local mirror is serving now.'), m.inFlight);
  add(family('local_mirror_waiting_requests', 'gauge', 'Of those, the requests waiting for an upstream slot now.'), m.waiting);
}
