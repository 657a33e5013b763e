/**
 * The MLP score network for low-dimensional data: [x, sinusoidal(t)] → hidden SiLU layers →
 * an output of x's dimension (ε-prediction by default).
 */

import { type Backend, concat, type DType, type Rng, silu, type Tensor } from "../compute/mod.ts";
import { initLinear, linear, type LinearParams } from "./linear.ts";
import { sinusoidalEmbedding } from "./time_embedding.ts";

export interface MlpConfig {
  dim: number;
  hidden: number;
  layers: number;
  timeFeatures: number;
  /** output width when it is not `dim` (a covariance head's D·(1 + r)) */
  outDim?: number;
}

export interface MlpParams {
  [k: string]: LinearParams[];
  layers: LinearParams[];
}

export function initMlp(backend: Backend, rng: Rng, c: MlpConfig, dtype: DType = "f32"): MlpParams {
  const widths = [c.dim + c.timeFeatures, ...Array(c.layers).fill(c.hidden), c.outDim ?? c.dim];
  return {
    layers: widths.slice(1).map((w, i) => initLinear(backend, rng.derive(i), widths[i], w, dtype)),
  };
}

/** x: [B, dim], t: [B] → [B, outDim ?? dim] */
export function mlpForward(p: MlpParams, c: MlpConfig, x: Tensor, t: Tensor): Tensor {
  let h = concat([x, sinusoidalEmbedding(t, c.timeFeatures)], 1);
  p.layers.forEach((layer, i) => {
    h = linear(layer, h);
    if (i < p.layers.length - 1) h = silu(h);
  });
  return h;
}
