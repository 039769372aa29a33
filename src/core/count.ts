/** A count with its noun, singular for one: "1 table", "3 tables", "0 mirrors" (regular plurals only). Pure. */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
