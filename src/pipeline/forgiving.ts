/**
 * The daemon's forgiving render: where `render` refuses any error, the daemon keeps
 * each fragment's last valid content in effect. Pure: texts, last-good texts and the
 * order of changes in; the effective render and each fragment's state out.
 *
 *  - valid:   the current content is in effect (and becomes the new last good);
 *  - held:    the current content is invalid or conflicts; its last good content is in effect;
 *  - invalid: never valid (or conflicting and new): left out.
 *
 * When fragments that are each valid conflict, the one changed most recently gives way.
 */
import { formatDiagnostic, hasErrors, type Diagnostic, type Location } from '../core/diagnostic.js';
import { classifyName, parseFragment } from '../fragments/index.js';
import { mergePolicies } from '../merge/merge.js';
import type { Fragment } from '../fragments/policy.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import { parseRegistriesConf } from '../registries-conf/parse.js';
import { baseName, finishConf, headerFacts, type ConfTransform, type SourceText } from './strict.js';
import { byteOrderCompare, sortByByteOrder, sortByteOrder } from '../core/byte-order.js';
import { RewriteChecks } from '../registries-conf/validate.js';
import type { SweepCache } from '../core/sweep-cache.js';
import type { KeptChecks } from './kept-checks.js';

export type FragmentState = 'valid' | 'held' | 'invalid';

export interface FragmentInput extends SourceText {
  /** Larger = changed more recently (a counter the daemon keeps). */
  readonly changedAt: number;
}

export interface FragmentStatus {
  readonly file: string;
  readonly state: FragmentState;
  /** Why it is held or left out (empty when valid). */
  readonly errors: Diagnostic[];
  /** Warnings located in it (its current content's, and the merge's): the operator should see them in `status` too. */
  readonly warnings: Diagnostic[];
}

export interface ForgivingInput {
  readonly base?: SourceText;
  readonly fragments: readonly FragmentInput[];
  /** Fragments that could not be read or were refused (trust): treated like invalid content. */
  readonly unreadable: readonly Diagnostic[];
  readonly lastGood: Readonly<Record<string, string>>;
  /** Applied to the merged configuration before it is rendered (see ConfTransform). */
  readonly transform?: ConfTransform;
  /** The version named in the rendered file's header (see RenderFacts.version). */
  readonly version?: string;
  /** containerd's hosts directory, named in the header (see RenderFacts.containerdHostsDir). */
  readonly containerdHostsDir?: string;
  /**
   * Parses kept from the renders before (the daemon's): a fragment whose text is the same is not
   * parsed again. A parse is a pure function of name and text, and nothing downstream changes it.
   */
  readonly parseCache?: ParseCache;
  /** The names judged and the tables parsed back by the renders before (the daemon's): see KeptChecks. */
  readonly kept?: KeptChecks;
}

type Parsed = { fragment?: Fragment; diagnostics: Diagnostic[] };

/** Each fragment's last parse of its current and of its last-good text, swept after each render (SweepCache). */
export type ParseCache = SweepCache<{ readonly text: string; readonly parsed: Parsed }>;

export interface ForgivingResult {
  readonly statuses: FragmentStatus[];
  /** Problems not tied to one fragment (the base, the output as a whole), and warnings (each fragment's are in its status too). */
  readonly diagnostics: Diagnostic[];
  /** The configuration rendered (after the transform). */
  readonly conf?: RegistriesConf;
  /** Absent when even the forgiving render failed (e.g. the base is invalid): keep the old output. */
  readonly text?: string;
  /** The last-good texts after this render: present fragments only. */
  readonly lastGood: Record<string, string>;
  /** The fragments in effect, in merge order. */
  readonly inEffect: string[];
}

interface Candidate {
  readonly file: string;
  readonly fragment: Fragment;
  readonly using: 'current' | 'last-good';
  readonly changedAt: number;
  readonly text: string;
}

function parseText(file: string, text: string): Parsed {
  const cls = classifyName(file);
  if ('ignored' in cls) return { diagnostics: [] };
  return parseFragment(file, cls.format, text);
}

/** parseText through the cache, when there is one: `slot` tells a fragment's current text from its last-good one. */
function parseCached(cache: ParseCache | undefined, slot: 'current' | 'last-good', file: string, text: string): Parsed {
  if (!cache) return parseText(file, text);
  // A file's name alone for its current text (no key built per fragment per render: 10 000 of them); a last-good
  // text's name behind a NUL, which no file name holds.
  const key = slot === 'current' ? file : `\u0000${file}`;
  const hit = cache.get(key);
  if (hit?.text === text) return hit.parsed;
  const parsed = parseText(file, text);
  cache.set(key, { text, parsed });
  return parsed;
}

/**
 * Parses a fragment's current text into the cache ahead of buildForgiving, which then finds it
 * there: the daemon does this in slices between which it yields, so that a render of 10 000
 * new fragments (a start, a SIGHUP) does not hold the event loop for the whole parse.
 */
export function parseAhead(cache: ParseCache, fragment: SourceText): void {
  parseCached(cache, 'current', fragment.file, fragment.text);
}

export function buildForgiving(input: ForgivingInput, output: Location): ForgivingResult {
  const errors = new Map<string, Diagnostic[]>();
  const addError = (file: string, ds: Diagnostic[]): void => void errors.set(file, [...(errors.get(file) ?? []), ...ds]);
  const diagnostics: Diagnostic[] = [];
  const candidates = new Map<string, Candidate>();

  const fallBack = (file: string, changedAt: number): void => {
    const good = input.lastGood[file];
    if (good === undefined) return;
    const parsed = parseCached(input.parseCache, 'last-good', file, good);
    if (parsed.fragment && !hasErrors(parsed.diagnostics)) candidates.set(file, { file, fragment: parsed.fragment, using: 'last-good', changedAt, text: good });
  };

  for (const f of input.fragments) {
    const parsed = parseCached(input.parseCache, 'current', f.file, f.text);
    diagnostics.push(...parsed.diagnostics.filter((d) => d.severity === 'warning'));
    if (parsed.fragment && !hasErrors(parsed.diagnostics)) {
      candidates.set(f.file, { file: f.file, fragment: parsed.fragment, using: 'current', changedAt: f.changedAt, text: f.text });
    } else {
      addError(
        f.file,
        parsed.diagnostics.filter((d) => d.severity === 'error'),
      );
      fallBack(f.file, f.changedAt);
    }
  }
  for (const d of input.unreadable) {
    addError(d.file, [d]);
    fallBack(d.file, Number.MAX_SAFE_INTEGER);
  }

  let base: RegistriesConf | undefined;
  if (input.base) {
    const parsed = parseRegistriesConf(input.base.text, input.base.file);
    diagnostics.push(...parsed.diagnostics);
    if (hasErrors(parsed.diagnostics)) return finish(undefined, undefined);
    base = parsed.conf;
  }

  // Merge what is in effect; a merge or validation error tied to fragments demotes the most recently changed of them, until clean.
  // Each fragment is demoted at most twice (current → last good → left out), so this many rounds always end in a render.
  const maxRounds = 2 * candidates.size + 1;
  const checks = input.kept?.rewriteChecks() ?? new RewriteChecks(); // a name judged in one round is not parsed again in the next
  for (let round = 0; round < maxRounds; round++) {
    const inEffect = sortByByteOrder([...candidates.values()], (c) => c.file);
    const merged = mergePolicies({ base, fragments: inEffect.map((c) => c.fragment), ...(input.kept ? { memo: input.kept.merge } : {}) });
    let problems = merged.diagnostics.filter((d) => d.severity === 'error');
    let finished: { text?: string; diagnostics: Diagnostic[] } | undefined;
    const conf = problems.length === 0 && input.transform ? input.transform(merged.conf) : merged.conf;
    if (problems.length === 0) {
      finished = finishConf(
        conf,
        { fragments: inEffect.map((c) => c.file), ...(input.base ? { base: baseName(input.base.file) } : {}), ...headerFacts(input) },
        output,
        checks,
        input.kept,
      );
      problems = finished.diagnostics.filter((d) => d.severity === 'error');
    }
    if (problems.length === 0 && finished?.text !== undefined) {
      diagnostics.push(...merged.diagnostics, ...finished.diagnostics);
      return finish(conf, finished.text);
    }
    const implicated = new Set(problems.flatMap((d) => [d.file, ...(d.related ?? []).map((r) => r.file)]).filter((f) => candidates.has(f)));
    if (implicated.size === 0) {
      diagnostics.push(...problems); // not tied to a fragment: the base or the output as a whole
      return finish(undefined, undefined);
    }
    const culprit = [...implicated]
      .map((f) => candidates.get(f) as Candidate)
      .sort((a, b) => (a.using === b.using ? b.changedAt - a.changedAt || byteOrderCompare(b.file, a.file) : a.using === 'current' ? -1 : 1))[0] as Candidate;
    addError(
      culprit.file,
      problems.filter((d) => d.file === culprit.file || (d.related ?? []).some((r) => r.file === culprit.file)),
    );
    candidates.delete(culprit.file);
    if (culprit.using === 'current' && input.lastGood[culprit.file] !== undefined && input.lastGood[culprit.file] !== culprit.text)
      fallBack(culprit.file, culprit.changedAt);
  }
  return finish(undefined, undefined);

  function finish(conf: RegistriesConf | undefined, text: string | undefined): ForgivingResult {
    input.parseCache?.sweep();
    input.kept?.sweep();
    const present = new Set([...input.fragments.map((f) => f.file), ...input.unreadable.map((d) => d.file)]);
    const lastGood: Record<string, string> = {};
    for (const file of present) {
      const c = candidates.get(file);
      if (text !== undefined && c?.using === 'current') lastGood[file] = c.text;
      else if (input.lastGood[file] !== undefined) lastGood[file] = input.lastGood[file];
    }
    // Grouped once, not filtered per fragment: linear in fragments and diagnostics.
    const warningsByFile = new Map<string, Diagnostic[]>();
    for (const d of diagnostics) {
      if (d.severity !== 'warning') continue;
      const list = warningsByFile.get(d.file);
      if (list) list.push(d);
      else warningsByFile.set(d.file, [d]);
    }
    const warningsOf = (file: string): Diagnostic[] => unique(warningsByFile.get(file) ?? []);
    const statuses: FragmentStatus[] = sortByteOrder([...present]).map((file) => {
      const c = candidates.get(file);
      const state: FragmentState = c?.using === 'current' ? 'valid' : c ? 'held' : 'invalid';
      return { file, state, errors: errors.get(file) ?? [], warnings: warningsOf(file) };
    });
    const inEffect = sortByteOrder([...candidates.keys()]);
    return { statuses, diagnostics, lastGood, inEffect, conf, text };
  }
}

/** Each diagnostic once (a warning can come from a fragment's parse and from the merge). */
function unique(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...new Map(ds.map((d) => [formatDiagnostic(d), d])).values()];
}
