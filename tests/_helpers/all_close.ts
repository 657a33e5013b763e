/** Elementwise closeness with a named tolerance; the failure names the worst element. */

import type { Tolerance } from "./tolerances.ts";

export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  what = "values",
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} differs from expected ${expected.length}`);
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(a) !== Number.isNaN(e)) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${e}`);
    }
    if (Number.isNaN(e) || a === e) continue;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > worstExcess || !Number.isFinite(excess)) {
      worst = i;
      worstExcess = Number.isFinite(excess) ? excess : Infinity;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}[${worst}]: got ${actual[worst]}, expected ${expected[worst]} ` +
        `(rtol ${tol.rtol}, atol ${tol.atol}: ${tol.why})`,
    );
  }
}

/** Largest |a − e| / max(|e|, floor) over the elements: the figure reported in notes. */
export function maxRelativeError(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  floor = 1e-6,
): number {
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(
      worst,
      Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), floor),
    );
  }
  return worst;
}
