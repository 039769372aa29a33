/**
 * undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it with its baseline
 * compiler (Liftoff), then again with TurboFan on background threads once it runs hot: the
 * malloc arenas of those threads stay (~14 MB more RSS in an idle daemon whose probes got
 * answers through undici, ~35 MB in a pull; the daemon still uses undici for the local mirror
 * and for probes through a proxy, src/registry/probe.ts) and a process that ends waits for the compile (30 ms here,
 * 300 ms under load). The parser's work per chunk is small (a body passes as a slice):
 * Liftoff's code is enough, and the local mirror's CPU per blob did not measurably change
 * (docs/performance.md). For `pull` and `run`, set before the first connection (issue #15).
 */
import { setFlagsFromString } from 'node:v8';

export function keepWasmAtBaseline(): void {
  // all three: with dynamic tiering on (the default), V8 13 (Node 24) ignores --liftoff-only set at run time
  for (const flag of ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering']) setFlagsFromString(flag);
}
