/** Small linear algebra composed from the Cholesky and triangular-solve primitives. */

import type { Tensor } from "../tensor.ts";
import { cholesky, triangularSolve } from "../primitives.ts";
import { tensor } from "../constants.ts";
import { log, mul, sum } from "./basic.ts";

export { cholesky, triangularSolve };

/** The diagonals of [..., r, r] matrices as [..., r]. */
export function diagonal(a: Tensor): Tensor {
  const r = a.shape[a.rank - 1];
  const eye = new Float64Array(r * r);
  for (let i = 0; i < r; i++) eye[i * r + i] = 1;
  return sum(mul(a, tensor(a.backend, eye, [r, r], a.dtype)), [a.rank - 1]);
}

/** log det A = 2 Σ log L_ii from the Cholesky factor L of an SPD matrix; [..., r, r] → [...]. */
export function logDetFromCholesky(l: Tensor): Tensor {
  return mul(sum(log(diagonal(l)), [l.rank - 2]), 2);
}

/** log det of symmetric positive definite matrices. */
export function logDetSpd(a: Tensor): Tensor {
  return logDetFromCholesky(cholesky(a));
}

/** A⁻¹B for SPD A through its Cholesky factor: L⁻ᵀ(L⁻¹B). */
export function choleskySolve(l: Tensor, b: Tensor): Tensor {
  return triangularSolve(l, triangularSolve(l, b, false), true);
}
