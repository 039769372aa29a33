/**
 * Text from outside (a fragment's value or name, a registry's error body) shown to people as one
 * line: every control character (C0, DEL, C1) and the Unicode line and paragraph separators
 * escaped as `\u001b`. A line break in it could forge a second diagnostic or log record (in the
 * journal, each line is a record), an ESC or CSI could move a terminal's cursor or recolour it.
 * The escape is visible and inert. Pure.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function oneLine(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
