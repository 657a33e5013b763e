/**
 * The one generic explicit Runge–Kutta step (Hairer, Nørsett & Wanner, Solving ODEs I, §II.1)
 * that every tableau of `tableaus.ts` runs through, for a batch of examples whose step
 * sizes may differ. The solver's own arithmetic records no tape: only f may differentiate
 * (e.g. a divergence by VJP), and its outputs are used detached.
 */

import { add, mul, noGrad, type Tensor, weightedSum } from "../../compute/mod.ts";
import type { ButcherTableau } from "./tableaus.ts";

/**
 * The dynamics dy/dt = f(t, y): `t` holds per-example times [B]; `y` and the result are lists
 * of state components, each with leading batch dimension B (e.g. [x (B×D), ℓ (B)]).
 */
export type OdeFn = (t: Tensor, y: Tensor[]) => Tensor[];

export interface RkStepResult {
  /** y + h Σ bᵢkᵢ */
  yNew: Tensor[];
  /** f(t + h, yNew) for an FSAL tableau (the next step's first stage), else null. */
  kLast: Tensor[] | null;
  /** h Σ (bᵢ − b̂ᵢ)kᵢ, the local error estimate; null unless asked for and available. */
  err: Tensor[] | null;
  /** Calls to f made by this step. */
  calls: number;
}

/**
 * One step for the whole batch. `k0` is f(t, y) when already known (FSAL), `stageTime(i)` the
 * [B] tensor of t + cᵢh, and `scaleH(c, v)` multiplies component c's increment by h (a number
 * in fixed-step mode, a per-example [B, 1, …] tensor in adaptive mode).
 */
export function rkStep(
  tab: ButcherTableau,
  f: OdeFn,
  y: Tensor[],
  k0: Tensor[] | null,
  stageTime: (i: number) => Tensor,
  scaleH: (component: number, v: Tensor) => Tensor,
  withError: boolean,
): RkStepResult {
  let calls = 0;
  const ks: Tensor[][] = [];
  const call = (i: number, yi: Tensor[]): Tensor[] => {
    const k = f(stageTime(i), yi);
    calls++;
    checkDerivative(tab.name, y, k);
    return k;
  };
  // Σⱼ wⱼ kⱼ per component, skipping zero weights (DP5 has several); null when all are zero.
  // Σ_j w_j k_j per component, one fused pass (null when every weight is zero)
  const combine = (w: readonly number[]): (Tensor | null)[] =>
    y.map((_, c) => {
      const used = w.flatMap((wj, j) => (wj === 0 ? [] : [j]));
      if (used.length === 0) return null;
      if (used.length === 1 && w[used[0]] === 1) return ks[used[0]][c];
      return weightedSum(used.map((j) => ks[j][c]), used.map((j) => w[j]));
    });
  const advance = (w: readonly number[]): Tensor[] =>
    noGrad(() => combine(w).map((inc, c) => (inc === null ? y[c] : add(y[c], scaleH(c, inc)))));

  ks.push(k0 ?? call(0, y));
  let yi = y;
  for (let i = 1; i < tab.c.length; i++) {
    yi = advance(tab.a[i]);
    ks.push(call(i, yi));
  }
  // FSAL: a_last = b, so the last stage's input already is y + h Σ bᵢkᵢ.
  const yNew = tab.fsal ? yi : advance(tab.b);
  let err: Tensor[] | null = null;
  if (withError && tab.bErr) {
    const bErr = tab.bErr;
    err = noGrad(() => combine(bErr).map((e, c) => (e === null ? mul(y[c], 0) : scaleH(c, e))));
  }
  return { yNew, kLast: tab.fsal ? ks[ks.length - 1] : null, err, calls };
}

/** f must return one tensor per state component with that component's exact shape. */
function checkDerivative(name: string, y: Tensor[], k: Tensor[]): void {
  const bad = k.length !== y.length ||
    k.some((kc, c) =>
      kc.dtype !== y[c].dtype || kc.rank !== y[c].rank ||
      kc.shape.some((d, i) => d !== y[c].shape[i])
    );
  if (bad) {
    const shapes = (ts: Tensor[]) => ts.map((t) => `[${t.shape.join(", ")}] ${t.dtype}`).join("; ");
    throw new Error(
      `solveOde (${name}): f returned {${shapes(k)}} for a state {${shapes(y)}}; ` +
        "each derivative must match its component's shape and dtype",
    );
  }
}

/** Disposes an intermediate state, never the caller's y0. */
export function release(y: Tensor[], y0: Tensor[]): void {
  if (y !== y0) y.forEach((v) => v.dispose());
}
