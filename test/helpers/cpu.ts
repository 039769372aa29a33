/**
 * What `f` returns and the CPU time it took, in ms: for tests that guard against runaway work
 * (a regex that backtracks, an alias bomb), where wall time would also count the moments a
 * loaded machine gave the process no CPU at all.
 */
export function withCpuMs<T>(f: () => T): { result: T; ms: number } {
  const before = process.cpuUsage();
  const result = f();
  const used = process.cpuUsage(before);
  return { result, ms: (used.user + used.system) / 1000 };
}
