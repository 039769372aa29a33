/**
 * A tiny parser of the Prometheus text format 0.0.4, strict: it throws on anything the format
 * does not allow, or that mirror-policyd promises not to write (NaN, a family split in two, a
 * HELP/TYPE without samples, a counter not named _total, a series twice). The metrics file's
 * tests read every file with it; promtool and python's prometheus_client agree with it on the
 * files the real daemon writes (checked by hand: they are not CI dependencies).
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Parsed {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: ParsedSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL_NAME}=${LABEL_VALUE})(?:,${LABEL_NAME}=${LABEL_VALUE})*)?\\})? (\\S+)$`);
const LABEL = new RegExp(`(${LABEL_NAME})=(${LABEL_VALUE})`, 'g');
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function unescapeLabel(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Throws on anything the format does not allow, or that we promise not to write. */
export function parse(text: string): Parsed {
  if (text !== '' && !text.endsWith('\n')) throw new Error('last line without a newline');
  const out: Parsed = { help: new Map(), type: new Map(), samples: [] };
  const lines = text.split('\n').slice(0, -1);
  let current: string | undefined;
  const closed = new Set<string>();
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind = '', name = '', rest = ''] = comment;
      if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`${where}: bad name`);
      const map = kind === 'HELP' ? out.help : out.type;
      if (map.has(name)) throw new Error(`${where}: second ${kind} for ${name}`);
      if (kind === 'TYPE' && !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}: bad type`);
      if (kind === 'TYPE' && out.samples.some((s) => s.name === name)) throw new Error(`${where}: TYPE after samples`);
      if (current !== name) {
        if (current !== undefined) closed.add(current);
        if (closed.has(name)) throw new Error(`${where}: ${name} is split in two groups`);
        current = name;
      }
      map.set(name, rest);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') throw new Error(`${where}: a line we never write`);
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: not name{labels} value`);
    const [, name = '', labelText = '', valueText = ''] = m;
    if (name !== current) throw new Error(`${where}: sample outside its group`);
    if (!FLOAT.test(valueText)) throw new Error(`${where}: value ${valueText} is not a finite number`);
    const labels: Record<string, string> = {};
    for (const l of labelText.matchAll(LABEL)) {
      const [, k = '', v = ''] = l;
      if (k in labels) throw new Error(`${where}: label ${k} twice`);
      labels[k] = unescapeLabel(v);
    }
    out.samples.push({ name, labels, value: Number(valueText) });
  }
  return out;
}

/** The format's invariants plus ours: HELP and TYPE once for every metric with samples, counters named _total and not negative, each series once. */
export function checkMetrics(text: string): Parsed {
  const p = parse(text);
  const names = new Set(p.samples.map((s) => s.name));
  for (const n of names) {
    if (!p.help.has(n) || !p.type.has(n)) throw new Error(`${n}: HELP or TYPE missing`);
    if (!n.startsWith('mirror_policyd_')) throw new Error(`${n}: prefix`);
    if ((p.type.get(n) === 'counter') !== n.endsWith('_total')) throw new Error(`${n}: counters and only counters end in _total`);
  }
  for (const n of [...p.help.keys(), ...p.type.keys()]) if (!names.has(n)) throw new Error(`${n}: HELP/TYPE without samples`);
  const series = p.samples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
  if (new Set(series).size !== series.length) throw new Error('a series twice');
  for (const s of p.samples) if (p.type.get(s.name) === 'counter' && s.value < 0) throw new Error(`${s.name}: negative counter`);
  return p;
}

/** The value of the series `name{labels}` (undefined: absent); `labels` must match exactly. */
export function metricValue(p: Parsed, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return p.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
