/**
 * Global gradient-norm clipping and a non-finite guard, on the device (no readback): grads are
 * scaled by min(1, c/‖g‖), and a non-finite loss zeroes the whole update's gradients.
 */

import {
  abs,
  add,
  eq,
  lt,
  mapTree,
  minimum,
  mul,
  recip,
  sqrt,
  square,
  sum,
  type Tensor,
  type Tree,
  treeLeaves,
  where,
} from "../../compute/mod.ts";

/** 1 when `loss` is finite, else 0 (NaN ≠ NaN; |±inf| is not below the largest float). */
export function finiteMask(loss: Tensor): Tensor {
  return mul(eq(loss, loss), lt(abs(loss), 3.4e38));
}

/** Clipped gradients with non-finite entries zeroed, and the 0/1 gate for the optimiser. */
export function clipAndGuard<T extends Tree>(
  grads: T,
  loss: Tensor,
  maxNorm: number,
): { grads: T; ok: Tensor } {
  const leaves = treeLeaves(grads);
  const ok = finiteMask(loss);
  let scale: Tensor = ok;
  if (maxNorm > 0) {
    const norm2 = leaves.map((g) => sum(square(g))).reduce((a, b) => add(a, b));
    scale = mul(ok, minimum(1, mul(recip(add(sqrt(norm2), 1e-12)), maxNorm)));
  }
  // where() keeps NaN gradients out even when multiplied by zero
  return { grads: mapTree(grads, (g) => where(ok, mul(g, scale), 0)), ok };
}
