/**
 * Turning discrete data into a continuous start point for the PF-ODE, with the log-density
 * of the draw (docs/MATH.md §2). Data k ∈ {0, …, 2^bits − 1} map to model space by y = a·v + b.
 *
 * - uniform: v = k + u, u ~ U[0, 1)^D, log q(y | k) = −D ln a (a box of volume a^D);
 * - truncated-normal (i-DODE): start at x_{t0} = α0 y_k + σ0 ε with y_k = a(k + ½) + b and
 *   ε ~ N(0, 1) truncated to [−τ, τ], τ = α0·(a/2)/σ0, log q = −(D/2)ln(2πσ0²) − D ln Z_τ − ‖ε‖²/2;
 * - none: continuous data, used as is (log q = 0).
 */

import { add, mul, type Rng, square, sub, sumPerExample, type Tensor } from "../compute/mod.ts";
import type { Sde } from "../sde/sde.ts";
import { erf } from "../sde/special.ts";
import { VDM_UNIFORM_DEQUANT_GAMMA0 } from "../sde/vdm.ts";
import type { Quantization } from "../data/quantization.ts";

/** `variational`: a learned q(u | k) (eval/variational_dequant.ts), drawn by its own evaluator. */
export type Dequantization = "none" | "uniform" | "truncated-normal" | "variational";

export interface DequantizedBatch {
  /** the ODE's start point, model space */
  x: Tensor;
  /** log q of the draw per example ([B]); null when zero */
  logq: Tensor | null;
  /** constant added to log p (nats per example) to get log P(k): D ln a for uniform, 0 otherwise */
  logVolume: number;
}

/**
 * The likelihood's start time for a process and a dequantisation (docs/MATH.md §1): the process's
 * own t_min, except that the VDM process under uniform dequantisation starts at γ = −11.8 as
 * i-DODE does (σ0 = 2.7394e-3, docs/MATH.md §7). Truncated-normal keeps the process's own start
 * (γmin = −13.3 for VDM), where its τ = 3.02 is set.
 */
export function likelihoodTMin(sde: Sde, dequantization: Dequantization): number {
  // a variational draw is, like a uniform one, data at time 0 inside its bin
  if (
    (sde.kind === "vdm" || sde.kind === "sp") &&
    (dequantization === "uniform" || dequantization === "variational")
  ) {
    return Math.max(sde.tMinLikelihood, sde.timeOfLogSnr(-VDM_UNIFORM_DEQUANT_GAMMA0));
  }
  return sde.tMinLikelihood;
}

/** τ = α0·(a/2)/σ0: half a quantisation bin at t_min, in units of the noise σ0. */
export function truncationBound(sde: Sde, tMin: number, q: Quantization): number {
  return (sde.alpha(tMin) * (q.a / 2)) / sde.sigma(tMin);
}

/**
 * Dequantises integer data `k` ([B, …], values in level units) with draws keyed by `rng`
 * (the caller positions it at the batch's first global example).
 */
export function dequantize(
  kind: Dequantization,
  k: Tensor,
  q: Quantization | null,
  sde: Sde,
  tMin: number,
  rng: Rng,
): DequantizedBatch {
  const D = k.size / k.shape[0];
  if (kind === "none") return { x: q ? add(mul(k, q.a), q.b) : k, logq: null, logVolume: 0 };
  if (!q) throw new Error(`dequantization ${kind} needs quantized data`);
  if (kind === "variational") {
    throw new Error("variational dequantization draws from its flow: eval/variational_dequant.ts");
  }
  if (kind === "uniform") {
    const u = rng.uniform(k.backend, k.shape, k.dtype);
    return { x: add(mul(add(k, u), q.a), q.b), logq: null, logVolume: D * Math.log(q.a) };
  }
  const a0 = sde.alpha(tMin), s0 = sde.sigma(tMin);
  const tau = truncationBound(sde, tMin, q);
  const eps = rng.truncatedNormal(k.backend, k.shape, tau, k.dtype);
  const centre = add(mul(k, q.a), q.b + q.a / 2);
  const x = add(mul(centre, a0), mul(eps, s0));
  const logq = sub(
    mul(sumPerExample(square(eps)), -0.5),
    (D / 2) * Math.log(2 * Math.PI * s0 * s0) + D * Math.log(erf(tau / Math.SQRT2)),
  );
  return { x, logq, logVolume: 0 };
}
