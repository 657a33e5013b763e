/**
 * A conditional flow onto the unit cube: the learned q_φ(u | context) of variational
 * dequantisation (docs/variational_dequantization.md). A logistic base ε is carried through
 * affine couplings, each conditioned on the context (the data's bin centres) by a small network,
 * and squashed by a sigmoid into (0, 1)^D; every step's log-determinant is exact, so log q is.
 *
 * With the couplings' last layers zero-initialised every coupling starts as the identity, and a
 * logistic variable through a sigmoid is uniform: the untrained flow is uniform dequantisation
 * exactly (log q = 0), and training can only move away from it to a better bound.
 *
 * Masks: the first coupling sees no coordinates (an elementwise affine map set by the context
 * alone, which also serves D = 1), then masks alternate: halves of the vector, or a checkerboard
 * over the pixels of an image (the same for every channel).
 */

import {
  add,
  type Backend,
  concat,
  type DType,
  exp,
  keep,
  log,
  mul,
  neg,
  type Rng,
  sigmoid,
  silu,
  slice,
  softplus,
  sub,
  sumPerExample,
  tanh,
  type Tensor,
  tensor,
  zeros,
} from "../compute/mod.ts";
import { initLinear, linear, type LinearParams } from "./linear.ts";
import { conv2dLayer, type Conv2dParams, initConv2d } from "./conv2d.ts";

export type CouplingFlowConfig =
  | {
    kind: "vector";
    /** dimension D of one example */
    dim: number;
    /** coupling layers, the context-only first one included */
    couplings: number;
    /** hidden width of each coupling's MLP (two hidden layers) */
    hidden: number;
  }
  | {
    kind: "image";
    /** [C, H, W] */
    shape: [number, number, number];
    couplings: number;
    /** channels of each coupling's 3×3 convolution pair */
    hidden: number;
  };

/** One coupling's conditioner: dense layers (vectors) or 3×3 convolutions (images). */
export interface CouplingParams {
  [k: string]: Tensor;
}

export interface CouplingFlowParams {
  [k: string]: CouplingParams[];
  couplings: CouplingParams[];
}

/** Log-scales are s = S·tanh(raw/S): at most e^±S per coupling, so no step can blow up. */
const MAX_LOG_SCALE = 3;

/**
 * Uniforms are squeezed into [δ, 1 − δ] before the logit, so ε stays finite; the squeeze is an
 * affine map whose log-Jacobian −ln(1 − 2δ) per coordinate is part of log q.
 */
const LOGIT_SQUEEZE = 1e-6;

export function flowDim(c: CouplingFlowConfig): number {
  return c.kind === "vector" ? c.dim : c.shape[0] * c.shape[1] * c.shape[2];
}

/** The shape of one example. */
export function flowShape(c: CouplingFlowConfig): number[] {
  return c.kind === "vector" ? [c.dim] : [...c.shape];
}

const hold = <T extends { w: Tensor; b: Tensor }>(p: T): T => {
  keep(p.w);
  keep(p.b);
  return p;
};

export function initCouplingFlow(
  backend: Backend,
  rng: Rng,
  c: CouplingFlowConfig,
  dtype: DType,
): CouplingFlowParams {
  if (!(Number.isInteger(c.couplings) && c.couplings >= 1)) {
    throw new Error(`coupling flow: couplings must be a positive integer, got ${c.couplings}`);
  }
  const couplings = Array.from({ length: c.couplings }, (_, l) => {
    const r = rng.derive(l);
    const out: CouplingParams = {};
    if (c.kind === "vector") {
      const widths = [2 * c.dim, c.hidden, c.hidden];
      const layers: LinearParams[] = widths.slice(1).map((w, i) =>
        hold(initLinear(backend, r.derive(i), widths[i], w, dtype))
      );
      // the output layer starts at zero: an identity coupling
      layers.push({
        w: keep(zeros(backend, [c.hidden, 2 * c.dim], dtype)),
        b: keep(zeros(backend, [2 * c.dim], dtype)),
      });
      layers.forEach((p, i) => Object.assign(out, { [`w${i}`]: p.w, [`b${i}`]: p.b }));
    } else {
      const ch = c.shape[0];
      const first = initConv2d(backend, r.derive(0), 2 * ch, c.hidden, 3, dtype);
      const last = initConv2d(backend, r.derive(1), c.hidden, 2 * ch, 3, dtype, 0);
      Object.assign(out, { w0: first.w, b0: first.b, w1: last.w, b1: last.b });
    }
    return out;
  });
  return { couplings };
}

/** The mask of coupling `l` (1: coordinates the conditioner sees and the coupling keeps). */
function maskValues(c: CouplingFlowConfig, l: number): Float64Array {
  const D = flowDim(c);
  const m = new Float64Array(D);
  if (l === 0) return m;
  const parity = l % 2;
  if (c.kind === "vector") {
    const half = Math.ceil(D / 2);
    for (let i = 0; i < D; i++) m[i] = (i < half ? 1 : 0) === parity ? 1 : 0;
  } else {
    const [C, H, W] = c.shape;
    for (let ch = 0; ch < C; ch++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) m[(ch * H + y) * W + x] = (x + y) % 2 === parity ? 1 : 0;
      }
    }
  }
  return m;
}

/** (raw log-scale, shift) of one coupling from the kept coordinates and the context. */
function conditioner(
  p: CouplingParams,
  c: CouplingFlowConfig,
  kept: Tensor,
  context: Tensor,
): [Tensor, Tensor] {
  const B = kept.shape[0];
  if (c.kind === "vector") {
    let h = concat([kept, context], 1);
    for (let i = 0; i < 3; i++) {
      h = linear({ w: p[`w${i}`], b: p[`b${i}`] }, h);
      if (i < 2) h = silu(h);
    }
    return [slice(h, [0, 0], [B, c.dim]), slice(h, [0, c.dim], [B, 2 * c.dim])];
  }
  const [C, H, W] = c.shape;
  const conv = (i: number): Conv2dParams => ({ w: p[`w${i}`], b: p[`b${i}`] });
  const h = conv2dLayer(conv(1), silu(conv2dLayer(conv(0), concat([kept, context], 1))));
  return [slice(h, [0, 0, 0, 0], [B, C, H, W]), slice(h, [0, C, 0, 0], [B, 2 * C, H, W])];
}

/**
 * The flow from a logistic base point ε ([B, …shape]) to u ∈ (0, 1)^D, with
 * log q(u | context) = log p(ε) − Σ log|det ∂step| per example ([B]). The context has ε's shape.
 */
export function couplingFlowForward(
  p: CouplingFlowParams,
  c: CouplingFlowConfig,
  eps: Tensor,
  context: Tensor,
): { u: Tensor; logq: Tensor; preSigmoid: Tensor } {
  const shape = flowShape(c);
  // log-density of the standard logistic: log σ(ε) + log σ(−ε) = −softplus(−ε) − softplus(ε)
  let logq = neg(sumPerExample(add(softplus(neg(eps)), softplus(eps))));
  let x = eps;
  p.couplings.forEach((layer, l) => {
    const m = tensor(eps.backend, maskValues(c, l), [1, ...shape], eps.dtype);
    const free = sub(1, m);
    const [raw, shift] = conditioner(layer, c, mul(x, m), context);
    const s = mul(tanh(mul(raw, 1 / MAX_LOG_SCALE)), MAX_LOG_SCALE);
    // kept coordinates pass through; the others are scaled by e^s and shifted
    x = add(mul(x, m), mul(add(mul(x, exp(s)), shift), free));
    logq = sub(logq, sumPerExample(mul(s, free)));
  });
  // the sigmoid's log-derivative log σ(x) + log σ(−x)
  logq = add(logq, sumPerExample(add(softplus(neg(x)), softplus(x))));
  return { u: sigmoid(x), logq, preSigmoid: x };
}

/**
 * Draws u ~ q(u | context) from uniforms U ([B, …shape], in [0, 1)): ε = logit(squeezed U).
 * log q includes the squeeze's Jacobian.
 */
export function couplingFlowSample(
  p: CouplingFlowParams,
  c: CouplingFlowConfig,
  uniforms: Tensor,
  context: Tensor,
): { u: Tensor; logq: Tensor } {
  const d = LOGIT_SQUEEZE;
  const v = add(mul(uniforms, 1 - 2 * d), d);
  const eps = sub(log(v), log(sub(1, v)));
  const r = couplingFlowForward(p, c, eps, context);
  return { u: r.u, logq: sub(r.logq, flowDim(c) * Math.log1p(-2 * d)) };
}
