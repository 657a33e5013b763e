/** Exponential moving average of weights (evaluation uses the EMA by default). */

import {
  add,
  assign,
  keep,
  mapTree,
  mul,
  noGrad,
  type Tree,
  treeLeaves,
} from "../../compute/mod.ts";

/** A persistent copy of `params`. */
export function initEma<T extends Tree>(params: T): T {
  return noGrad(() => mapTree(params, (p) => keep(mul(p, 1))));
}

/** ema ← d·ema + (1 − d)·params, in place. */
export function emaUpdate<T extends Tree>(ema: T, params: T, decay: number): void {
  const e = treeLeaves(ema), p = treeLeaves(params);
  noGrad(() => e.forEach((t, i) => assign(t, add(mul(t, decay), mul(p[i], 1 - decay)))));
}
