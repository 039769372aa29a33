/**
 * Plain scalars as go-yaml v2 reads them: kubectl and oc turn YAML into JSON through
 * sigs.k8s.io/yaml, which reads YAML 1.1 (`yes`, `on`, `y` are booleans; `0b101`, `0X1F`,
 * `1_000` numbers), while the yaml package's core schema is YAML 1.2's (all of those strings).
 * A registry named `on` or `yes` written unquoted would pass here and be refused by the API
 * server ("must be of type string"). These tags give the values go-yaml gives: its booleans
 * beside the core schema's, and its numbers before the core schema's (which differ at the
 * edges: `0755` is 493 to go-yaml, and `1e400` or `0x1FFFFFFFFFFFFFFFFF`, which overflow, strings).
 *
 * Each is tried on plain scalars, so each test is one anchored regex that fails at the first
 * character of an ordinary name (`quay.io/x`).
 */
import type { ScalarTag, Tags } from 'yaml';

const BOOL_TAG = 'tag:yaml.org,2002:bool';
const TRUE_WORDS: ReadonlySet<string> = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON']);

/** go-yaml v2's booleans that YAML 1.2 dropped (true/false and their cases the core schema reads). */
const goBool: ScalarTag = {
  tag: BOOL_TAG,
  default: true,
  test: /^(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF)$/,
  identify: () => false, // for reading only: never chosen to write a value
  resolve: (str) => TRUE_WORDS.has(str),
};

/** Go's integer literals, base 0 (strconv.ParseInt(s, 0, 64)): sign, then 0x, 0b, 0o, 0 (octal) or decimal. */
const GO_INT = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]([0-7]+)|0([0-7]*)|([1-9][0-9]*))$/;
/** go-yaml v2's yamlStyleFloat. */
const GO_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
/** strconv.ParseFloat of a scalar starting with ".": underscores only between digits. */
const GO_DOT_FLOAT = /^\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** An integer go-yaml v2 reads from `plain` (underscores removed): within int64, or uint64 when unsigned. */
function goInt(plain: string): number | undefined {
  const m = GO_INT.exec(plain);
  if (!m) return undefined;
  const [, sign, hex, bin, oct, oldOct, dec] = m;
  const prefixed =
    hex !== undefined ? `0x${hex}` : bin !== undefined ? `0b${bin}` : oct !== undefined ? `0o${oct}` : oldOct !== undefined ? `0o${oldOct || '0'}` : dec;
  const magnitude = BigInt(prefixed ?? '0');
  const n = sign === '-' ? -magnitude : magnitude;
  if (n < INT64_MIN || n > (sign === '' ? UINT64_MAX : 2n ** 63n - 1n)) return undefined; // ParseInt and ParseUint refuse it
  return Number(n);
}

/**
 * go-yaml v2's resolve for a plain scalar starting with a digit, a sign or a dot: the number it
 * reads, or the scalar itself where it reads a string (a timestamp stays one too: decoded into
 * interface{}, go-yaml v2 keeps its text).
 */
function goNumber(str: string): number | string {
  const special = SPECIAL_FLOATS.get(str);
  if (special !== undefined) return special;
  if (str.startsWith('.')) return GO_DOT_FLOAT.test(str) ? Number(str.replace(/_/g, '')) : str;
  const plain = str.replace(/_/g, '');
  const int = goInt(plain);
  if (int !== undefined) return int;
  if (GO_FLOAT.test(plain)) {
    const f = Number(plain);
    if (Number.isFinite(f)) return f; // ParseFloat refuses what overflows (ErrRange): a string then
  }
  return str;
}

/** go-yaml v2's resolve table for infinities and NaN (the same spellings as YAML 1.2's). */
const SPECIAL_FLOATS: ReadonlyMap<string, number> = new Map([
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Infinity] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, -Infinity] as const),
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, NaN] as const),
]);

const NUMBER_START = /^[-+.0-9]/;

/** Numbers go-yaml v2 reads that YAML 1.2 does not (0b101, 0X1F, 0O17, 1_000, .5_5); as !!int and as !!float, for explicit tags. */
const goNumberTags: ScalarTag[] = ['tag:yaml.org,2002:int', 'tag:yaml.org,2002:float'].map((tag) => ({
  tag,
  default: true,
  test: NUMBER_START,
  identify: () => false,
  resolve: (str) => goNumber(str),
}));

/**
 * !!binary: go-yaml decodes it, but a registry name written in base64 hides from whoever reviews
 * the file, and oc never writes one (it goes through JSON). Refused, with the text it encodes.
 */
const refusedBinary: ScalarTag = {
  tag: 'tag:yaml.org,2002:binary',
  identify: () => false,
  resolve: (str, onError) => {
    const decoded = Buffer.from(str.replace(/\s/g, ''), 'base64').toString('utf8');
    onError(
      `a !!binary value is not read here; write the text it encodes instead: ${JSON.stringify(decoded.length > 100 ? `${decoded.slice(0, 100)}…` : decoded)}`,
    );
    return str;
  },
};

/**
 * The yaml package's `customTags` for the core schema: go-yaml's numbers in place of the core
 * schema's (tried first, they take every scalar that starts like a number), its booleans after
 * the core schema's, and !!binary refused.
 */
export function goYamlTags(coreTags: Tags): Tags {
  const isNumber = (t: Tags[number]): boolean => typeof t === 'object' && (t.tag === 'tag:yaml.org,2002:int' || t.tag === 'tag:yaml.org,2002:float');
  const first = coreTags.findIndex(isNumber);
  const rest = coreTags.filter((t) => !isNumber(t));
  return [...rest.slice(0, first), ...goNumberTags, ...rest.slice(first), goBool, refusedBinary];
}

/**
 * An explicit tag whose value go-yaml cannot read as that type (`!!int quay`): kubectl refuses the
 * file ("cannot decode !!str `quay` as a !!int"); the yaml package only warns and keeps the string.
 */
const STRICT_TAGS = /^Unresolved tag: tag:yaml\.org,2002:(int|float|bool|null)$/;

/** The error go-yaml gives for an unresolved explicit tag of one of its types; undefined for other tags (local tags, !!set: go-yaml ignores them). */
export function unreadableTagValue(message: string, value: () => string | undefined): string | undefined {
  const m = STRICT_TAGS.exec(message);
  return m ? `cannot read ${JSON.stringify(value() ?? '')} as !!${m[1]} (kubectl and oc refuse it too)` : undefined;
}

/** For a boolean or number where a string was wanted: how YAML as kubectl reads it made it one. */
export function goYamlScalarHint(v: unknown): string {
  if (typeof v !== 'boolean' && typeof v !== 'number') return '';
  return ' (as kubectl and oc read YAML, an unquoted yes, no, on, off, y or n is a boolean and 0b101, 0X1F or 1_000 a number); if it is a name, quote it';
}
