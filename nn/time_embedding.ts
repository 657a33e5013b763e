/**
 * Sinusoidal time features (Vaswani et al. 2017, as in DDPM): [sin(s·ω_j), cos(s·ω_j)] with
 * s = scale·t and ω_j = 10000^{−j/F}. Continuous t ∈ [0, 1] is scaled by 1000, the discrete
 * step count the features were designed for.
 */

import {
  type Backend,
  concat,
  cos,
  type DType,
  mul,
  reshape,
  sin,
  type Tensor,
  tensor,
} from "../compute/mod.ts";

export function sinusoidalEmbedding(t: Tensor, features: number, scale = 1000): Tensor {
  const half = features / 2;
  if (!Number.isInteger(half)) {
    throw new Error(`sinusoidalEmbedding: features must be even, got ${features}`);
  }
  const times = t.requiresGrad ? null : t.hostValues();
  if (times) return onHost(t, times, half, scale);
  const omega = frequencies(t.backend, half, scale, t.dtype);
  const arg = mul(reshape(t, [t.size, 1]), omega);
  return concat([sin(arg), cos(arg)], 1);
}

function frequencies(backend: Backend, half: number, scale: number, dtype: DType): Tensor {
  const w = new Float64Array(half);
  for (let j = 0; j < half; j++) w[j] = scale * Math.exp(-Math.log(10000) * j / half);
  return tensor(backend, w, [1, half], dtype);
}

/** The same features computed in float64 from times known on the host: one upload. */
function onHost(t: Tensor, times: Float64Array, half: number, scale: number): Tensor {
  const n = times.length, out = new Float64Array(n * 2 * half);
  for (let j = 0; j < half; j++) {
    const omega = scale * Math.exp(-Math.log(10000) * j / half);
    for (let b = 0; b < n; b++) {
      out[b * 2 * half + j] = Math.sin(times[b] * omega);
      out[b * 2 * half + half + j] = Math.cos(times[b] * omega);
    }
  }
  return tensor(t.backend, out, [n, 2 * half], t.dtype);
}
