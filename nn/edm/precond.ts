/**
 * EDM's preconditioning (Karras et al. 2022, Table 1): the denoiser
 *
 *   D(x; σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x; c_noise(σ))
 *
 * for `EDMPrecond` (σ_data), `VPPrecond` (β_d, β_min, M) and `VEPrecond`, with σ = σ(t) of the
 * VE process σ_min (σ_max/σ_min)^t that the toolkit runs the model under (docs/import_edm.md).
 * Times known on the host give the coefficients there: σ(t) is rounded to float32, as the
 * original receives it, and c_noise follows the original's float32 operations one rounding at
 * a time (it feeds sinusoids of arguments up to ~10³); c_skip, c_out and c_in are exact.
 */

import {
  add,
  div,
  exp,
  log,
  mul,
  neg,
  recip,
  reshape,
  sqrt,
  sub,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import type { EdmConfig, EdmPrecond } from "./config.ts";

const f32 = Math.fround;

export interface PrecondCoefficients {
  cSkip: Tensor;
  cOut: Tensor;
  cIn: Tensor;
}

/** σ(t) = σ_min (σ_max/σ_min)^t in float64. */
export function sigmaOfTime(c: EdmConfig, t: number): number {
  return c.sigmaMin * Math.exp(t * Math.log(c.sigmaMax / c.sigmaMin));
}

/** VPPrecond's σ(t) = √(exp(½β_d t² + β_min t) − 1), float64 (its σ range ends at t = ε_t, 1). */
export function vpSigma(p: Extract<EdmPrecond, { kind: "vp" }>, t: number): number {
  return Math.sqrt(Math.expm1(0.5 * p.betaD * t * t + p.betaMin * t));
}

/** c_skip, c_out, c_in of one float32 σ, exactly. */
function coefficientsOf(p: EdmPrecond, s: number): [number, number, number] {
  if (p.kind === "edm") {
    const d2 = p.sigmaData ** 2, r = Math.sqrt(s * s + d2);
    return [d2 / (s * s + d2), s * p.sigmaData / r, 1 / r];
  }
  if (p.kind === "vp") return [1, -s, 1 / Math.sqrt(s * s + 1)];
  return [1, s, 1];
}

/** c_noise of one float32 σ, in the original's float32 operations. */
export function cNoiseOf(p: EdmPrecond, s: number): number {
  if (p.kind === "edm") return f32(f32(Math.log(s)) / 4);
  if (p.kind === "ve") return f32(Math.log(f32(0.5 * s)));
  // (M − 1) · σ⁻¹(σ), σ⁻¹(σ) = (√(β_min² + 2β_d ln(1 + σ²)) − β_min) / β_d
  const l = f32(Math.log(f32(1 + f32(s * s))));
  const root = f32(Math.sqrt(f32(f32(p.betaMin ** 2) + f32(f32(2 * p.betaD) * l))));
  return f32(f32(p.M - 1) * f32(f32(root - f32(p.betaMin)) / f32(p.betaD)));
}

/** Per-example coefficients [B, 1, 1, 1] and c_noise values of host-known times. */
export function precondOnHost(
  c: EdmConfig,
  times: Float64Array,
  like: Tensor,
): PrecondCoefficients & { cNoise: number[] } {
  const sig = Array.from(times, (t) => f32(sigmaOfTime(c, t)));
  const coef = sig.map((s) => coefficientsOf(c.precond, s));
  const col = (i: number) =>
    tensor(like.backend, coef.map((k) => k[i]), [sig.length, 1, 1, 1], like.dtype);
  return {
    cSkip: col(0),
    cOut: col(1),
    cIn: col(2),
    cNoise: sig.map((s) => cNoiseOf(c.precond, s)),
  };
}

/** The same on the device, differentiable in t [B]. */
export function precondOnDevice(c: EdmConfig, t: Tensor): PrecondCoefficients & { cNoise: Tensor } {
  const b = t.size, col = (v: Tensor) => reshape(v, [b, 1, 1, 1]);
  const s = exp(add(mul(t, Math.log(c.sigmaMax / c.sigmaMin)), Math.log(c.sigmaMin)));
  const s2 = mul(s, s), p = c.precond;
  const one = (v: number) => col(add(mul(s, 0), v));
  if (p.kind === "edm") {
    const d2 = p.sigmaData ** 2, r = sqrt(add(s2, d2));
    return {
      cSkip: col(div(d2, add(s2, d2))),
      cOut: col(div(mul(s, p.sigmaData), r)),
      cIn: col(recip(r)),
      cNoise: mul(log(s), 0.25),
    };
  }
  if (p.kind === "vp") {
    const root = sqrt(add(mul(log(add(s2, 1)), 2 * p.betaD), p.betaMin ** 2));
    return {
      cSkip: one(1),
      cOut: col(neg(s)),
      cIn: col(recip(sqrt(add(s2, 1)))),
      cNoise: mul(sub(root, p.betaMin), (p.M - 1) / p.betaD),
    };
  }
  return { cSkip: one(1), cOut: col(s), cIn: one(1), cNoise: log(mul(s, 0.5)) };
}
