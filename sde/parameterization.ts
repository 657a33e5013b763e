/**
 * Conversions between network parameterisations (docs/MATH.md §1): with x = α x0 + σ ε,
 * ε-prediction s = −ε̂/σ, x0-prediction s = (α x̂0 − x)/σ², velocity (i-DODE, Salimans & Ho
 * 2022) F = α ε − σ x0. α and σ are per-example [B] tensors, as `sde.alphaSigmaT(t)` returns
 * them; every function broadcasts them over the example shape, whatever its rank.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { full, mul, referenceBackend, Rng } from "../compute/mod.ts";
 * import { makeSde } from "./processes.ts";
 * // data N(0, I) under VP: x_t ~ N(0, I) at every t, so E[ε | x] = σ x and the score is −x
 * const backend = referenceBackend(), sde = makeSde("vp");
 * const x = Rng.fromSeed(0).normal(backend, [4, 2], "f64"), t = full(backend, [4], 0.5, "f64");
 * const m = sde.alphaSigmaT(t);
 * const epsHat = mul(x, perExample(m.sigma, x)); // what a perfect ε-network would predict
 * const score = scoreFromPrediction("eps", epsHat, x, m);
 * const [s, xs] = [await score.read(), await x.read()];
 * assert.ok(s.every((v, i) => Math.abs(v + xs[i]) < 1e-12));
 * ```
 */

import { add, div, mul, neg, reshape, square, sub, type Tensor } from "../compute/mod.ts";
import type { Parameterization } from "./model.ts";
import { knownOnHost, uploadPerExample } from "./host_times.ts";

/** The marginal's per-example coefficients, each of shape [B]. */
export interface AlphaSigma {
  alpha: Tensor;
  sigma: Tensor;
}

/** [B] → [B, 1, …, 1] matching `like`'s rank (k-diffusion's append_dims). */
export function perExample(v: Tensor, like: Tensor): Tensor {
  if (v.rank !== 1 || v.shape[0] !== like.shape[0]) {
    throw new Error(
      `perExample: expected per-example values of shape [${like.shape[0]}], found [${v.shape}]`,
    );
  }
  return reshape(v, [like.shape[0], ...like.shape.slice(1).map(() => 1)]);
}

/** s = −ε̂/σ, one product by −1/σ when σ is known on the host */
export function scoreFromEps(epsHat: Tensor, m: AlphaSigma): Tensor {
  const sigma = knownOnHost(m.sigma);
  if (sigma) {
    return mul(
      epsHat,
      perExample(uploadPerExample(m.sigma, sigma, (s) => -1 / s), epsHat),
    );
  }
  return neg(div(epsHat, perExample(m.sigma, epsHat)));
}

/** ε̂ = −σ s */
export function epsFromScore(score: Tensor, m: AlphaSigma): Tensor {
  return neg(mul(score, perExample(m.sigma, score)));
}

/** s = (α x̂0 − x)/σ² (Tweedie: x̂0 = E[x0 | x]) */
export function scoreFromX0(x0Hat: Tensor, x: Tensor, m: AlphaSigma): Tensor {
  const a = perExample(m.alpha, x), s = perExample(m.sigma, x);
  return div(sub(mul(x0Hat, a), x), square(s));
}

/** ε̂ = (x − α x̂0)/σ */
export function epsFromX0(x0Hat: Tensor, x: Tensor, m: AlphaSigma): Tensor {
  return div(sub(x, mul(x0Hat, perExample(m.alpha, x))), perExample(m.sigma, x));
}

/** x̂0 = (x − σ ε̂)/α */
export function x0FromEps(epsHat: Tensor, x: Tensor, m: AlphaSigma): Tensor {
  return div(sub(x, mul(epsHat, perExample(m.sigma, x))), perExample(m.alpha, x));
}

/** The velocity target F* = α ε − σ x0 (i-DODE's flow-matching target). */
export function velocityFromEpsX0(eps: Tensor, x0: Tensor, m: AlphaSigma): Tensor {
  return sub(mul(eps, perExample(m.alpha, eps)), mul(x0, perExample(m.sigma, eps)));
}

/**
 * ε̂ = (α F̂ + σ x)/(α² + σ²). For VP and VDM-γ α² + σ² = 1 and this is docs/MATH.md's
 * ε̂ = α F̂ + σ x; dividing keeps the inversion exact for sub-VP and VE too.
 */
export function epsFromVelocity(vHat: Tensor, x: Tensor, m: AlphaSigma): Tensor {
  const a = perExample(m.alpha, x), s = perExample(m.sigma, x);
  return div(add(mul(vHat, a), mul(x, s)), add(square(a), square(s)));
}

/** x̂0 = (α x − σ F̂)/(α² + σ²), the other half of the same 2×2 inversion. */
export function x0FromVelocity(vHat: Tensor, x: Tensor, m: AlphaSigma): Tensor {
  const a = perExample(m.alpha, x), s = perExample(m.sigma, x);
  return div(sub(mul(x, a), mul(vHat, s)), add(square(a), square(s)));
}

/** s = −ε̂/σ with ε̂ from the velocity. */
export function scoreFromVelocity(vHat: Tensor, x: Tensor, m: AlphaSigma): Tensor {
  return scoreFromEps(epsFromVelocity(vHat, x, m), m);
}

/** The score from a network's native output, whichever parameterisation it predicts. */
export function scoreFromPrediction(
  param: Parameterization,
  prediction: Tensor,
  x: Tensor,
  m: AlphaSigma,
): Tensor {
  switch (param) {
    case "score":
      return prediction;
    case "eps":
      return scoreFromEps(prediction, m);
    case "x0":
      return scoreFromX0(prediction, x, m);
    case "velocity":
      return scoreFromVelocity(prediction, x, m);
  }
}
