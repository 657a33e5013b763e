/**
 * The MLP score network for low-dimensional data: [x, sinusoidal(t)] → hidden SiLU layers →
 * an output of x's dimension (ε-prediction by default). A class-conditional MLP (`classes` > 0)
 * adds its label's embedding, one-hot [B, classes] @ W without bias, to the time features: the
 * zero row ("no label", what label dropout trains) adds nothing.
 */

import {
  add,
  type Backend,
  concat,
  type DType,
  matmul,
  type Rng,
  silu,
  type Tensor,
} from "../compute/mod.ts";
import { uniformFanIn } from "./init.ts";
import { initLinear, linear, type LinearParams } from "./linear.ts";
import { sinusoidalEmbedding } from "./time_embedding.ts";

export interface MlpConfig {
  dim: number;
  hidden: number;
  layers: number;
  timeFeatures: number;
  /** output width when it is not `dim` (a covariance head's D·(1 + r)) */
  outDim?: number;
  /** classes of a class-conditional network (absent or 0: unconditional) */
  classes?: number;
}

export type MlpParams = {
  layers: LinearParams[];
  /** [classes, timeFeatures], a class-conditional network's only */
  classEmbedding?: Tensor;
};

export function initMlp(backend: Backend, rng: Rng, c: MlpConfig, dtype: DType = "f32"): MlpParams {
  const widths = [c.dim + c.timeFeatures, ...Array(c.layers).fill(c.hidden), c.outDim ?? c.dim];
  const layers = widths.slice(1).map((w, i) =>
    initLinear(backend, rng.derive(i), widths[i], w, dtype)
  );
  if (!((c.classes ?? 0) > 0)) return { layers };
  // U(−1, 1): the scale of the sin/cos features it is added to
  const shape = [c.classes!, c.timeFeatures];
  const classEmbedding = uniformFanIn(backend, rng.derive("classEmbedding"), shape, 1, dtype);
  return { layers, classEmbedding };
}

/** x: [B, dim], t: [B] → [B, outDim ?? dim]; `labels` (one-hot [B, classes]) condition it. */
export function mlpForward(
  p: MlpParams,
  c: MlpConfig,
  x: Tensor,
  t: Tensor,
  opts: { labels?: Tensor } = {},
): Tensor {
  let temb = sinusoidalEmbedding(t, c.timeFeatures);
  if (p.classEmbedding && opts.labels) temb = add(temb, matmul(opts.labels, p.classEmbedding));
  let h = concat([x, temb], 1);
  p.layers.forEach((layer, i) => {
    h = linear(layer, h);
    if (i < p.layers.length - 1) h = silu(h);
  });
  return h;
}
