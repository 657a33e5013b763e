/**
 * NCSN++'s time input and its embedding: VP and sub-VP networks are fed 999·t through
 * score_sde's sinusoidal `get_timestep_embedding`; VE networks are fed σ(t) = σ_min (σ_max/σ_min)^t,
 * embedded by Gaussian Fourier features of log σ (or sinusoids of σ), and `scale_by_sigma`
 * divides their output by the same σ. When t is known on the host, the values are computed there
 * in the original's float32 arithmetic (its arguments reach hundreds of radians, where a float32
 * rounding of the argument already moves sin by 1e-5).
 */

import {
  add,
  cast,
  concat,
  cos,
  exp,
  mul,
  reshape,
  sin,
  type Tensor,
  tensor,
} from "../compute/mod.ts";
import type { NcsnppConfig, NcsnppParams } from "./ncsnpp.ts";

const f32 = Math.fround;

/** score_sde's `get_timestep_embedding` in its float32 arithmetic, on the host. */
function positionalOnHost(x: Tensor, labels: Float64Array, dim: number): Tensor {
  const half = Math.floor(dim / 2), step = f32(-Math.log(10000) / (half - 1));
  const out = new Float64Array(labels.length * dim);
  for (let j = 0; j < half; j++) {
    const freq = f32(Math.exp(f32(j * step)));
    for (let b = 0; b < labels.length; b++) {
      const arg = f32(f32(labels[b]) * freq);
      out[b * dim + j] = Math.sin(arg);
      out[b * dim + half + j] = Math.cos(arg);
    }
  }
  return tensor(x.backend, out, [labels.length, dim], x.dtype);
}

function positionalOnDevice(x: Tensor, labels: Tensor, dim: number): Tensor {
  const half = Math.floor(dim / 2), step = -Math.log(10000) / (half - 1);
  const freqs = Array.from({ length: half }, (_, j) => Math.exp(j * step));
  const arg = mul(reshape(labels, [labels.size, 1]), tensor(x.backend, freqs, [1, half], x.dtype));
  return concat([sin(arg), cos(arg)], 1);
}

/** σ(t) as score_sde's VESDE.marginal_prob computes it in float32: σ_min · (σ_max/σ_min)^t. */
function veSigmaF32(c: NcsnppConfig, t: number): number {
  return f32(f32(c.sigmaMin!) * f32(Math.pow(c.sigmaMax! / c.sigmaMin!, f32(t))));
}

/** σ(t) = σ_min (σ_max/σ_min)^t of a VE model's time input, or log σ(t), per example [B]. */
export function veSigmaOf(c: NcsnppConfig, x: Tensor, t: Tensor, log: boolean): Tensor {
  const host = t.requiresGrad ? null : t.hostValues();
  if (host) {
    const f = (v: number) => log ? f32(Math.log(veSigmaF32(c, v))) : veSigmaF32(c, v);
    return tensor(x.backend, host.map(f), [host.length], x.dtype);
  }
  const low = Math.log(c.sigmaMin!), span = Math.log(c.sigmaMax! / c.sigmaMin!);
  const logSigma = add(mul(t, span), low);
  return log ? logSigma : exp(logSigma);
}

/**
 * `GaussianFourierProjection` of log σ: sin and cos of 2π W log σ, W frozen in the checkpoint.
 * The products round as the original's float32 ones (log σ · W, then · 2π, exact in binary),
 * given the float32 log σ from the host: natively on float32 backends, by a float32 round trip
 * on float64 ones (arguments reach hundreds of radians, where that rounding moves sin by 1e-5).
 */
function fourierFeatures(p: NcsnppParams, c: NcsnppConfig, x: Tensor, t: Tensor): Tensor {
  const w = p[`all_modules.0.W`];
  const logSigma = reshape(veSigmaOf(c, x, t, true), [t.size, 1]);
  const asF32 = (v: Tensor) =>
    v.dtype === "f64" && !v.requiresGrad ? cast(cast(v, "f32"), "f64") : v;
  const arg = asF32(mul(asF32(mul(logSigma, reshape(w, [1, w.size]))), f32(2 * Math.PI)));
  return concat([sin(arg), cos(arg)], 1);
}

/** The embedding of the time input, before the two dense layers. */
export function timeFeatures(p: NcsnppParams, c: NcsnppConfig, x: Tensor, t: Tensor): Tensor {
  if (c.embeddingType === "fourier") return fourierFeatures(p, c, x, t);
  if (c.timeInput === "999t") {
    const host = t.requiresGrad ? null : t.hostValues();
    if (host) return positionalOnHost(x, host.map((v) => f32(v * 999)), c.nf);
    return positionalOnDevice(x, mul(t, 999), c.nf);
  }
  return positionalOnDevice(x, veSigmaOf(c, x, t, false), c.nf);
}
