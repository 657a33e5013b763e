/**
 * score_sde's `NCSNpp` network (Song et al. 2021), evaluated from its own state dict: the
 * parameters keep the names of the PyTorch module tree (`all_modules.7.Conv_0.weight`), so an
 * imported checkpoint needs no renaming, and the forward pass walks `all_modules` in the order
 * the original builds it (nn/ncsnpp_shapes.ts lists them; nn/ncsnpp_layers.ts evaluates each).
 * Covered: DDPM++ and NCSN++ — `resblock_type` biggan or ddpm, positional or Gaussian-Fourier
 * time embedding, `skip_rescale`, `resamp_with_conv`, FIR resampling (nn/ncsnpp_fir.ts), the
 * progressive output (`output_skip`, `residual`) and input (`input_skip`, `residual`) paths
 * with `progressive_combine` sum or cat, `centered`, `scale_by_sigma`, attention at chosen
 * resolutions.
 *
 * Layout conventions of the original, kept as they are: convolution weights [O, C, kh, kw];
 * `nn.Linear` weights [out, in]; the attention block's `NIN` weights [in, out]; GroupNorm with
 * min(C/4, 32) groups and ε = 1e-6.
 */

import {
  add,
  type Backend,
  concat,
  div,
  type DType,
  keep,
  mul,
  reshape,
  type Rng,
  silu,
  type Tensor,
  zeros,
} from "../compute/mod.ts";
import {
  attnBlock,
  combine,
  conv,
  dense,
  downsample,
  norm,
  resBlock,
  rescale,
  upsample,
} from "./ncsnpp_layers.ts";
import { ncsnppShapes } from "./ncsnpp_shapes.ts";
import { timeFeatures, veSigmaOf } from "./ncsnpp_time.ts";
import { MIN_FIR_TAPS } from "./ncsnpp_fir.ts";

export { ncsnppShapes };

/** The fields of score_sde's config that shape the network (names as there, camel-cased). */
export interface NcsnppConfig {
  resolution: number;
  channels: number;
  nf: number;
  chMult: number[];
  numResBlocks: number;
  attnResolutions: number[];
  resblockType: "biggan" | "ddpm";
  embeddingType: "positional" | "fourier";
  fourierScale: number;
  skipRescale: boolean;
  resampWithConv: boolean;
  conditional: boolean;
  /**
   * score_sde's `data.centered`. false: the network was trained on [0, 1] images y (its first
   * step is 2y − 1). This toolkit's data x are on [−1, 1], so `ncsnppForward` then feeds the
   * network x itself (= 2y − 1 for y = (x + 1)/2) and halves its output, the y-space score of a
   * VE network, to the x-space score (docs/import_score_sde.md); `ncsnppNetwork` is the network
   * as score_sde evaluates it, on y.
   */
  centered: boolean;
  scaleBySigma: boolean;
  fir: boolean;
  /** the 1-D FIR taps (score_sde's `fir_kernel`, [1, 3, 3, 1]); read only when `fir` */
  firKernel: number[];
  progressive: "none" | "output_skip" | "residual";
  progressiveInput: "none" | "input_skip" | "residual";
  /** how `Combine` joins the input pyramid (`input_skip`): summed or stacked as channels */
  progressiveCombine: "sum" | "cat";
  /**
   * The network's time input: `999t` (score_sde's continuous VP and sub-VP models, fed t·999)
   * or `sigma` (VE models, fed σ(t) = σ_min (σ_max/σ_min)^t).
   */
  timeInput: "999t" | "sigma";
  /** the network's own σ range (score_sde's `model.sigma_min`, `sigma_max`), for `sigma` */
  sigmaMin?: number;
  sigmaMax?: number;
}

/** Parameters by their score_sde names, `module.` prefix removed. */
export type NcsnppParams = Record<string, Tensor>;

/** What this port cannot evaluate, named by score_sde's config field; null when it can. */
export function unsupportedNcsnpp(c: NcsnppConfig): string | null {
  if (c.fir && !(c.firKernel.length >= MIN_FIR_TAPS && c.firKernel.every((v) => v > 0))) {
    return `model.fir_kernel = [${c.firKernel}] (at least ${MIN_FIR_TAPS} positive taps)`;
  }
  if (c.embeddingType === "fourier" && c.timeInput !== "sigma") {
    return "a Fourier embedding fed t·999 (score_sde feeds it σ)";
  }
  if (c.timeInput === "sigma" && !(c.sigmaMin! > 0 && c.sigmaMax! > c.sigmaMin!)) {
    return "time input σ without sigma_min < sigma_max";
  }
  if (c.scaleBySigma && !(c.timeInput === "sigma" && c.embeddingType === "fourier")) {
    // score_sde then divides by its discrete `sigmas[int(label)]`, not by a continuous σ(t)
    return "model.scale_by_sigma = True without a Fourier embedding of σ (VE)";
  }
  if (!c.centered && c.timeInput !== "sigma") {
    // halving the output is the change of variables of a score; an ε-prediction is not one
    return "data.centered = False outside a VE (σ-fed) network";
  }
  return null;
}

/**
 * score_sde's network on its own input convention: `input` on [0, 1] when not `centered`, else
 * on [−1, 1]; the raw output (an ε-prediction for VP and sub-VP; for VE a score, divided by σ
 * when `scale_by_sigma`).
 */
export function ncsnppNetwork(p: NcsnppParams, c: NcsnppConfig, input: Tensor, t: Tensor): Tensor {
  return walk(p, c, c.centered ? input : add(mul(input, 2), -1), t);
}

/**
 * The network's output for x [N, C, H, W] on [−1, 1] at SDE times t [N], in this toolkit's
 * data space: score_sde's output for `centered` networks; for the others (VE) the score in x,
 * half the network's score in y = (x + 1)/2.
 */
export function ncsnppForward(p: NcsnppParams, c: NcsnppConfig, x: Tensor, t: Tensor): Tensor {
  const h = walk(p, c, x, t);
  return c.centered ? h : mul(h, 0.5);
}

/** `NCSNpp.forward` from the centred input on: every module in `all_modules` order. */
function walk(p: NcsnppParams, c: NcsnppConfig, x: Tensor, t: Tensor): Tensor {
  let m = 0;
  const next = () => `all_modules.${m++}`;
  let temb: Tensor | null = timeFeatures(p, c, x, t);
  if (c.embeddingType === "fourier") m++;
  if (c.conditional) {
    temb = dense(p, next(), temb);
    temb = dense(p, next(), silu(temb));
  } else temb = null;
  const levels = c.chMult.length;
  let inputPyramid = x;
  const hs = [conv(p, next(), x)];
  for (let i = 0; i < levels; i++) {
    for (let b = 0; b < c.numResBlocks; b++) {
      let h = resBlock(p, c, next(), hs[hs.length - 1], temb);
      if (c.attnResolutions.includes(h.shape[3])) h = attnBlock(p, c, next(), h);
      hs.push(h);
    }
    if (i !== levels - 1) {
      const k = next(), last = hs[hs.length - 1];
      let h = c.resblockType === "ddpm"
        ? downsample(p, c, k, last, c.resampWithConv)
        : resBlock(p, c, k, last, temb, "down");
      if (c.progressiveInput === "input_skip") {
        inputPyramid = downsample(p, c, "", inputPyramid, false);
        h = combine(p, c, next(), inputPyramid, h);
      } else if (c.progressiveInput === "residual") {
        inputPyramid = rescale(c, downsample(p, c, next(), inputPyramid, true), h);
        h = inputPyramid;
      }
      hs.push(h);
    }
  }
  let h = resBlock(p, c, next(), hs[hs.length - 1], temb);
  h = attnBlock(p, c, next(), h);
  h = resBlock(p, c, next(), h, temb);
  let pyramid: Tensor | null = null;
  for (let i = levels - 1; i >= 0; i--) {
    for (let b = 0; b < c.numResBlocks + 1; b++) {
      h = resBlock(p, c, next(), concat([h, hs.pop()!], 1), temb);
    }
    if (c.attnResolutions.includes(h.shape[3])) h = attnBlock(p, c, next(), h);
    if (c.progressive !== "none" && i === levels - 1) {
      // the pyramid starts from h: GroupNorm, SiLU, a 3×3 convolution
      const k = next();
      pyramid = conv(p, next(), silu(norm(p, k, h)));
    } else if (c.progressive === "output_skip") {
      const k = next();
      const fromH = conv(p, next(), silu(norm(p, k, h)));
      pyramid = add(upsample(p, c, "", pyramid!, false), fromH);
    } else if (c.progressive === "residual") {
      pyramid = rescale(c, upsample(p, c, next(), pyramid!, true), h);
      h = pyramid;
    }
    if (i !== 0) {
      const k = next();
      h = c.resblockType === "ddpm"
        ? upsample(p, c, k, h, c.resampWithConv)
        : resBlock(p, c, k, h, temb, "up");
    }
  }
  if (c.progressive === "output_skip") h = pyramid!;
  else {
    const k = next();
    h = conv(p, next(), silu(norm(p, k, h)));
  }
  if (c.scaleBySigma) h = div(h, reshape(veSigmaOf(c, x, t, false), [t.size, 1, 1, 1]));
  return h;
}

/** Fresh parameters of the given shapes: N(0, 1/fan-in) weights, zero biases, unit GroupNorm scales. */
export function initNcsnpp(
  backend: Backend,
  rng: Rng,
  c: NcsnppConfig,
  dtype: DType,
): NcsnppParams {
  const p: NcsnppParams = {};
  for (const [name, shape] of ncsnppShapes(c)) {
    const isNormScale = /GroupNorm_\d+\.weight$/.test(name) ||
      /^all_modules\.\d+\.weight$/.test(name) && shape.length === 1;
    if (isNormScale) p[name] = keep(add(zeros(backend, shape, dtype), 1));
    else if (shape.length === 1 && !name.endsWith(".W")) {
      p[name] = keep(zeros(backend, shape, dtype));
    } else {
      const fanIn = shape.length === 2 && name.endsWith(".W")
        ? shape[0]
        : shape.slice(1).reduce((a, b) => a * b, 1);
      p[name] = keep(
        mul(rng.derive(name).normal(backend, shape, dtype), 1 / Math.sqrt(Math.max(fanIn, 1))),
      );
    }
  }
  return p;
}
