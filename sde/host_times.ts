/**
 * Per-example coefficients from the host. When an ODE solver uploads per-example times with
 * `tensorWithHostCopy`, an SDE's α_t, σ_t, f(t) and g(t)² come from its float64 host methods
 * (one upload each, no device passes, and more accurate than float32 arithmetic); times drawn
 * on the device, or that need a gradient, take the tensor formulas.
 */

import { type Tensor, tensorWithHostCopy } from "../compute/mod.ts";
import type { Sde } from "./sde.ts";

/** v's values when they are known on the host (see tensorWithHostCopy) and v needs no gradient; else null. */
export function knownOnHost(v: Tensor): Float64Array | null {
  return v.requiresGrad ? null : v.hostValues();
}

/** f applied to each of `times` (t's host values), uploaded in t's shape and dtype. */
export function uploadPerExample(t: Tensor, times: Float64Array, f: (s: number) => number): Tensor {
  return tensorWithHostCopy(t.backend, times.map(f), t.shape, t.dtype);
}

/** α_t and σ_t from `sde`'s host methods, or null when t's values are not on the host. */
export function hostAlphaSigma(sde: Sde, t: Tensor): { alpha: Tensor; sigma: Tensor } | null {
  const h = knownOnHost(t);
  if (!h) return null;
  return {
    alpha: uploadPerExample(t, h, (s) => sde.alpha(s)),
    sigma: uploadPerExample(t, h, (s) => sde.sigma(s)),
  };
}

/** f(t) and g(t)² from `sde`'s host methods, or null when t's values are not on the host. */
export function hostDriftDiffusion(sde: Sde, t: Tensor): { f: Tensor; g2: Tensor } | null {
  const h = knownOnHost(t);
  if (!h) return null;
  return {
    f: uploadPerExample(t, h, (s) => sde.driftCoef(s)),
    g2: uploadPerExample(t, h, (s) => sde.diffusion2(s)),
  };
}

/**
 * f applied to each per-example coefficient of `v`: on the host when v's values are there
 * (an upload, no device pass), else `onDevice(v)`.
 */
export function mapPerExample(
  v: Tensor,
  f: (s: number) => number,
  onDevice: (v: Tensor) => Tensor,
): Tensor {
  const h = knownOnHost(v);
  return h ? uploadPerExample(v, h, f) : onDevice(v);
}
