/**
 * The Gaussian quasi-NLL of one Likelihood-Matching transition (docs/MATH.md §3.5),
 *   ½[D ln(2π b²/a²) + ln det M + (a²/b²) rᵀ M⁻¹ r],   M = diag(m) + V Vᵀ,
 * through the Woodbury identity and the determinant lemma with K = I_r + Vᵀ diag(m)⁻¹ V:
 *   rᵀM⁻¹r = Σ r²/m − ‖L⁻¹ Vᵀ(r/m)‖²,   ln det M = Σ ln m + 2 Σ ln L_ii,   L Lᵀ = K,
 * an r×r Cholesky per example: O(D r² + r³), never a D×D matrix.
 */

import {
  add,
  cholesky,
  log,
  logDetFromCholesky,
  matmul,
  mul,
  recip,
  reshape,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  triangularSolve,
} from "../../compute/mod.ts";
import type { LowRank } from "./transition.ts";

/** Per-example parts: the log-determinant, the quadratic form rᵀM⁻¹r and the total. */
export interface QuasiNll {
  logDet: Tensor;
  quadratic: Tensor;
  nll: Tensor;
}

/**
 * r [B, D] residuals x_s − μ; m = {d: [B, D] > 0, u: [B, D, r] | null}; a², b² per example
 * (host). Returns [B] tensors.
 */
export function quasiNll(
  r: Tensor,
  m: LowRank,
  a2: ArrayLike<number>,
  b2: ArrayLike<number>,
): QuasiNll {
  const [B, D] = r.shape;
  const inv = recip(m.d);
  let quadratic = sum(mul(square(r), inv), [1]);
  let logDet = sum(log(m.d), [1]);
  if (m.u && m.u.shape[2] > 0) {
    const R = m.u.shape[2];
    const w = mul(m.u, reshape(inv, [B, D, 1])); // diag(m)⁻¹ V
    const eye = new Float64Array(R * R);
    for (let i = 0; i < R; i++) eye[i * R + i] = 1;
    const l = cholesky(add(matmul(m.u, w, true), tensor(r.backend, eye, [R, R], r.dtype)));
    const y = triangularSolve(l, matmul(w, reshape(r, [B, D, 1]), true)); // L⁻¹ Vᵀ(r/m)
    quadratic = sub(quadratic, sum(square(y), [1, 2]));
    logDet = add(logDet, logDetFromCholesky(l));
  }
  const host = (v: ArrayLike<number>) => tensor(r.backend, Float64Array.from(v), [B], r.dtype);
  const ratio = Float64Array.from({ length: B }, (_, i) => a2[i] / b2[i]);
  const constant = Float64Array.from(
    { length: B },
    (_, i) => D * Math.log((2 * Math.PI * b2[i]) / a2[i]),
  );
  const nll = mul(add(add(host(constant), logDet), mul(host(ratio), quadratic)), 0.5);
  return { logDet, quadratic, nll };
}
