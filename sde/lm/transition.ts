/**
 * The reverse transition of Likelihood Matching (docs/MATH.md §3.5). For s < t the forward step is
 * x_t = a x_s + b ε with a = α_t/α_s and b² = σ_t² − a²σ_s², and the reverse moments are
 *   μ = (x_t + b² s(x_t))/a,   Σ = (b²/a²) M,   M = I + b² H(x_t).
 * With the denoising covariance C ≈ Cov[x_0 | x_t] = diag(d) + U Uᵀ, Tweedie gives
 * H = α_t² C/σ_t⁴ − I/σ_t², so M = c1 I + c2 C with c1 = a²σ_s²/σ_t² and c2 = b²α_t²/σ_t⁴:
 * diagonal plus rank r, positive definite for every pair (s, t), from one C per (x_t, t).
 */

import { add, mul, type Tensor, tensor } from "../../compute/mod.ts";
import { perExample } from "../parameterization.ts";
import type { Sde } from "../sde.ts";

/** Per-example coefficients of the steps s_i → t_i (host float64). */
export interface StepCoefficients {
  a: Float64Array;
  b2: Float64Array;
  c1: Float64Array;
  c2: Float64Array;
}

/** a, b², c1, c2 of the steps s_i → t_i (s_i < t_i). */
export function stepCoefficients(
  sde: Sde,
  s: ArrayLike<number>,
  t: ArrayLike<number>,
): StepCoefficients {
  return coefficients(Array.from(s, (si) => [sde.alpha(si), sde.sigma(si)]), sde, t);
}

/**
 * The steps from t_i down to the data itself (α = 1, σ = 0, whatever the process's value at
 * t = 0): c1 = 0, so Σ = (b²/a²) c2 C = C, the denoising covariance.
 */
export function dataStepCoefficients(sde: Sde, t: ArrayLike<number>): StepCoefficients {
  return coefficients(Array.from(t, () => [1, 0]), sde, t);
}

function coefficients(from: number[][], sde: Sde, t: ArrayLike<number>): StepCoefficients {
  const n = t.length;
  const k = {
    a: new Float64Array(n),
    b2: new Float64Array(n),
    c1: new Float64Array(n),
    c2: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const [as, ss] = from[i];
    const at = sde.alpha(t[i]), st = sde.sigma(t[i]);
    const a = at / as, b2 = st * st - a * a * ss * ss;
    if (!(b2 > 0)) throw new RangeError(`LM step to t = ${t[i]}: b² = ${b2} is not positive`);
    k.a[i] = a;
    k.b2[i] = b2;
    k.c1[i] = (a * a * ss * ss) / (st * st);
    k.c2[i] = (b2 * at * at) / st ** 4;
  }
  return k;
}

/** The diagonal-plus-low-rank covariance diag(d) + U Uᵀ: d [B, D], u [B, D, r] or null (r = 0). */
export interface LowRank {
  d: Tensor;
  u: Tensor | null;
}

/** v [B] (host) as a [B, 1, …] tensor broadcasting over `like`. */
export function column(v: ArrayLike<number>, like: Tensor): Tensor {
  return perExample(tensor(like.backend, Float64Array.from(v), [v.length], like.dtype), like);
}

/** μ = (x_t + b² s)/a, x and s [B, …]. */
export function reverseMean(x: Tensor, score: Tensor, k: StepCoefficients): Tensor {
  return mul(add(x, mul(score, column(k.b2, score))), column(k.a.map((a) => 1 / a), x));
}

/** M = c1 I + c2 C as its diagonal and factor: D_M = c1 + c2 d, V = √c2 U. */
export function stepMatrix(c: LowRank, k: StepCoefficients): LowRank {
  return {
    d: add(mul(c.d, column(k.c2, c.d)), column(k.c1, c.d)),
    u: c.u ? mul(c.u, column(k.c2.map(Math.sqrt), c.u)) : null,
  };
}
