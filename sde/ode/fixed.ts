/**
 * Fixed-step mode of `solveOde`: N equal steps h = (t1 − t0)/N of any tableau, with no error
 * estimate and no readback (the classical Euler/Heun baselines of docs/MATH.md §2).
 */

import { mul, stopGradient, type Tensor, tidy } from "../../compute/mod.ts";
import { type OdeFn, release, rkStep } from "./rk_step.ts";
import type { ButcherTableau } from "./tableaus.ts";

/** N equal steps of h = (t1 − t0)/N: no error estimate, no readback. */
export function solveFixed(
  f: OdeFn,
  y0: Tensor[],
  t0: number,
  t1: number,
  tab: ButcherTableau,
  n: number,
  upload: (v: ArrayLike<number>) => Tensor,
  counts: { nfe: number; steps: number },
): Tensor[] {
  const B = y0[0].shape[0], h = (t1 - t0) / n;
  let y = y0, k: Tensor[] | null = null;
  try {
    for (let i = 0; i < n; i++) {
      const tn = t0 + i * h; // from t0, not accumulated: the last step ends on t1 to rounding
      const next = tidy(() => {
        const s = rkStep(
          tab,
          f,
          y,
          k,
          (j) => upload(Array(B).fill(i === n - 1 && tab.c[j] === 1 ? t1 : tn + tab.c[j] * h)),
          (_, v) => mul(v, h),
          false,
        );
        counts.nfe += s.calls;
        return { y: s.yNew, k: s.kLast && s.kLast.map(stopGradient) };
      });
      release(y, y0);
      k?.forEach((v) => v.dispose());
      ({ y, k } = next);
      counts.steps++;
    }
  } catch (e) {
    release(y, y0);
    throw e;
  } finally {
    k?.forEach((v) => v.dispose());
  }
  return y;
}
