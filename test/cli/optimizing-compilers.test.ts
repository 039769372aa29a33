/**
 * holdOptimizingCompilers and releaseOptimizingCompilers (src/cli/daemon-process.ts): held, a
 * hot function is not optimized by this runtime's V8; released, it is again. The suite runs on
 * Node 20 (V8 11) and Node 24 (V8 13), so the flag names set are the ones each V8 knows and
 * heeds at run time. V8 itself is asked, through its natives syntax (`%GetOptimizationStatus`),
 * enabled for this test process only. A file of its own: the flags hold for the whole process.
 */
/* eslint-disable @typescript-eslint/no-implied-eval -- V8's natives syntax (%Name) is not TypeScript, and each test needs a fresh function (closures of one literal share their optimized code) */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { holdOptimizingCompilers, releaseOptimizingCompilers } from '../../src/cli/daemon-process.js';

setFlagsFromString('--allow-natives-syntax');
/** V8's OptimizationStatus bits (src/runtime/runtime.h): the same in V8 11 and 13. */
const OPTIMIZED = 1 << 4;
const MAGLEVVED = 1 << 5;
const TURBOFANNED = 1 << 6;
const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
const prepare = new Function('f', '%PrepareFunctionForOptimization(f)') as (f: unknown) => void;
const optimizeNext = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void;

/**
 * A fresh function, run hot (and asked to be optimized on its next call, as V8's own tests do);
 * its optimization status once `optimized` says yes, or after up to 5 s of calls. The hot loop
 * may already have started a concurrent job, which the next call does not wait for: on a busy
 * machine the status said "not optimized" before it landed, so the calls go on (bounded).
 */
async function hotStatus(optimized: (status: number) => boolean): Promise<number> {
  const f = new Function('xs', 'let s = 0; for (let i = 0; i < xs.length; i++) s += xs[i] * 2; return s;') as (xs: number[]) => number;
  const xs = Array.from({ length: 1000 }, (_, i) => i);
  prepare(f);
  for (let i = 0; i < 2000; i++) f(xs);
  optimizeNext(f);
  f(xs);
  const deadline = Date.now() + 5000;
  while (!optimized(status(f)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 100; i++) f(xs);
  }
  return status(f);
}

const isOptimized = (s: number): boolean => (s & OPTIMIZED) !== 0;

t.test('before: this runtime optimizes a hot function (the check below can fail)', async (t) => {
  const s = await hotStatus(isOptimized);
  t.not(s & OPTIMIZED, 0, `status ${s.toString(2)}`);
});

t.test('held: a hot function stays unoptimized (no TurboFan, no Maglev)', async (t) => {
  holdOptimizingCompilers();
  const s = await hotStatus(isOptimized); // given every chance: 5 s of calls
  t.equal(s & OPTIMIZED, 0, `status ${s.toString(2)}`);
  t.equal(s & (MAGLEVVED | TURBOFANNED), 0, `status ${s.toString(2)}`);
});

t.test('released: a hot function is optimized again', async (t) => {
  releaseOptimizingCompilers();
  const s = await hotStatus(isOptimized);
  t.not(s & OPTIMIZED, 0, `status ${s.toString(2)}`);
});
