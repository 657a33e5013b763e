/**
 * A 2-D convolution layer over NCHW images, with "same" padding for odd kernels, plus DDPM's
 * initialiser (Ho et al. 2020; kept by DDPM++ in Song et al. 2021's score_sde), which the
 * U-Net's dense layers share: variance scaling with fan_avg and a uniform distribution,
 * U(−√(3s/fan_avg), √(3s/fan_avg)), biases zero.
 */

import {
  add,
  type Backend,
  conv2d,
  conv2dBias,
  type DType,
  keep,
  mul,
  noGrad,
  reshape,
  type Rng,
  sub,
  type Tensor,
  zeros,
} from "../compute/mod.ts";
import type { LinearParams } from "./linear.ts";

/** 1×1 projections (skips, attention) start small, as score_sde's `NIN(init_scale=0.1)`. */
export const NIN_INIT_SCALE = 0.1;

/** Weights [O, C, k, k] and bias [O]. */
export type Conv2dParams = { w: Tensor; b: Tensor };

/**
 * DDPM's `default_init(scale)`: U(−√(3·scale/fan_avg), +√(3·scale/fan_avg)), whose variance is
 * scale/fan_avg with fan_avg = (fanIn + fanOut)/2. scale = 0 gives exact zeros (DDPM asks for
 * 1e-10, which is zero for every practical purpose) and draws nothing.
 */
export function fanAvgUniform(
  backend: Backend,
  rng: Rng,
  shape: number[],
  fanIn: number,
  fanOut: number,
  scale: number,
  dtype: DType,
): Tensor {
  if (scale === 0) return keep(zeros(backend, shape, dtype));
  const bound = Math.sqrt(3 * scale / ((fanIn + fanOut) / 2));
  return keep(noGrad(() => mul(sub(mul(rng.uniform(backend, shape, dtype), 2), 1), bound)));
}

/**
 * A k×k convolution C→O with DDPM's initialiser; `scale` 0 zero-initialises it (DDPM's
 * `init_scale=0.` for the last conv of each residual branch and of the network).
 */
export function initConv2d(
  backend: Backend,
  rng: Rng,
  inC: number,
  outC: number,
  kernel: number,
  dtype: DType,
  scale = 1,
): Conv2dParams {
  const area = kernel * kernel;
  return {
    w: fanAvgUniform(
      backend,
      rng,
      [outC, inC, kernel, kernel],
      inC * area,
      outC * area,
      scale,
      dtype,
    ),
    b: keep(zeros(backend, [outC], dtype)),
  };
}

/** A dense layer in→out with DDPM's initialiser (zero bias), in `linear.ts`'s layout. */
export function initDense(
  backend: Backend,
  rng: Rng,
  inDim: number,
  outDim: number,
  dtype: DType,
  scale = 1,
): LinearParams {
  return {
    w: fanAvgUniform(backend, rng, [inDim, outDim], inDim, outDim, scale, dtype),
    b: keep(zeros(backend, [outDim], dtype)),
  };
}

/** x: [N, C, H, W] → [N, O, ⌈H/stride⌉, ⌈W/stride⌉] with padding (k − 1)/2 ("same" at stride 1). */
export function conv2dLayer(p: Conv2dParams, x: Tensor, stride = 1): Tensor {
  return conv2dBias(x, p.w, p.b, stride, samePadding(p));
}

/**
 * conv2dLayer plus a per-example, per-channel shift [N, O] (a res block's time embedding),
 * added with the bias in one pass over the output.
 */
export function conv2dLayerShifted(p: Conv2dParams, x: Tensor, shift: Tensor): Tensor {
  const [n, o] = shift.shape;
  const h = conv2d(x, p.w, { stride: 1, padding: samePadding(p) });
  return add(h, reshape(add(shift, p.b), [n, o, 1, 1]));
}

function samePadding(p: Conv2dParams): number {
  const k = p.w.shape[2];
  if (k % 2 !== 1) throw new Error(`conv2dLayer: need an odd kernel for same padding, got ${k}`);
  return (k - 1) / 2;
}

/** Parameters of a k×k convolution C→O with bias. */
export function conv2dParamCount(inC: number, outC: number, kernel: number): number {
  return outC * inC * kernel * kernel + outC;
}
