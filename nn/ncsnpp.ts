/**
 * score_sde's `NCSNpp` network (Song et al. 2021), evaluated from its own state dict: the
 * parameters keep the names of the PyTorch module tree (`all_modules.7.Conv_0.weight`), so an
 * imported checkpoint needs no renaming, and the forward pass walks `all_modules` in the order
 * the original builds it. Covered: DDPM++ (`resblock_type` biggan or ddpm, positional or
 * Gaussian-Fourier time embedding, `skip_rescale`, `resamp_with_conv`, `centered`,
 * `scale_by_sigma`, attention at chosen resolutions); FIR resampling and the progressive
 * input/output paths of NCSN++ are refused by `validateNcsnppConfig`.
 *
 * Layout conventions of the original, kept as they are: convolution weights [O, C, kh, kw];
 * `nn.Linear` weights [out, in]; the attention block's `NIN` weights [in, out]; GroupNorm with
 * min(C/4, 32) groups and ε = 1e-6.
 */

import {
  add,
  avgPool2x2,
  type Backend,
  concat,
  conv2d,
  cos,
  div,
  type DType,
  exp,
  groupNorm,
  keep,
  matmul,
  mul,
  pad,
  permute,
  reshape,
  type Rng,
  silu,
  sin,
  softmax,
  type Tensor,
  tensor,
  upsampleNearest2x,
  zeros,
} from "../compute/mod.ts";

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
  /** false: the network maps its [0, 1] input to [−1, 1] itself (x ↦ 2x − 1) */
  centered: boolean;
  scaleBySigma: boolean;
  fir: boolean;
  progressive: "none" | "output_skip" | "residual";
  progressiveInput: "none" | "input_skip" | "residual";
  /**
   * The network's time input: `999t` (score_sde's continuous VP and sub-VP models, fed t·999)
   * or `sigma` (VE models, fed σ(t) = σ_min (σ_max/σ_min)^t).
   */
  timeInput: "999t" | "sigma";
  sigmaMin?: number;
  sigmaMax?: number;
}

/** Parameters by their score_sde names, `module.` prefix removed. */
export type NcsnppParams = Record<string, Tensor>;

/** What this port cannot evaluate, named by score_sde's config field; null when it can. */
export function unsupportedNcsnpp(c: NcsnppConfig): string | null {
  if (c.fir) return "model.fir = True (FIR resampling of NCSN++)";
  if (c.progressive !== "none") return `model.progressive = '${c.progressive}'`;
  if (c.progressiveInput !== "none") return `model.progressive_input = '${c.progressiveInput}'`;
  if (c.embeddingType === "fourier" && c.timeInput !== "sigma") {
    return "a Fourier embedding fed t·999 (score_sde feeds it σ)";
  }
  if (c.timeInput === "sigma" && !(c.sigmaMin! > 0 && c.sigmaMax! > c.sigmaMin!)) {
    return "time input σ without sigma_min < sigma_max";
  }
  return null;
}

const groupsOf = (channels: number) => Math.min(Math.floor(channels / 4), 32);

/** Every parameter's name and shape, in the order of the original's state dict. */
export function ncsnppShapes(c: NcsnppConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  let m = 0;
  const at = () => `all_modules.${m++}`;
  const conv = (k: string, ci: number, co: number, size: number) => {
    shapes.set(`${k}.weight`, [co, ci, size, size]);
    shapes.set(`${k}.bias`, [co]);
  };
  const norm = (k: string, ch: number) => {
    shapes.set(`${k}.weight`, [ch]);
    shapes.set(`${k}.bias`, [ch]);
  };
  const dense = (k: string, i: number, o: number) => {
    shapes.set(`${k}.weight`, [o, i]);
    shapes.set(`${k}.bias`, [o]);
  };
  const nf = c.nf, temb = 4 * nf;
  if (c.embeddingType === "fourier") shapes.set(`${at()}.W`, [nf]);
  if (c.conditional) {
    dense(at(), c.embeddingType === "fourier" ? 2 * nf : nf, temb);
    dense(at(), temb, temb);
  }
  const res = (ci: number, co: number, resample: boolean) => {
    const k = at();
    norm(`${k}.GroupNorm_0`, ci);
    conv(`${k}.Conv_0`, ci, co, 3);
    if (c.conditional) dense(`${k}.Dense_0`, temb, co);
    norm(`${k}.GroupNorm_1`, co);
    conv(`${k}.Conv_1`, co, co, 3);
    if (c.resblockType === "biggan") {
      if (ci !== co || resample) conv(`${k}.Conv_2`, ci, co, 1);
    } else if (ci !== co) {
      shapes.set(`${k}.NIN_0.W`, [ci, co]);
      shapes.set(`${k}.NIN_0.b`, [co]);
    }
  };
  const attn = (ch: number) => {
    const k = at();
    norm(`${k}.GroupNorm_0`, ch);
    for (let i = 0; i < 4; i++) {
      shapes.set(`${k}.NIN_${i}.W`, [ch, ch]);
      shapes.set(`${k}.NIN_${i}.b`, [ch]);
    }
  };
  const levels = c.chMult.length;
  conv(at(), c.channels, nf, 3);
  const hs = [nf];
  let ch = nf;
  for (let i = 0; i < levels; i++) {
    const res_i = c.resolution >> i;
    for (let b = 0; b < c.numResBlocks; b++) {
      res(ch, nf * c.chMult[i], false);
      ch = nf * c.chMult[i];
      if (c.attnResolutions.includes(res_i)) attn(ch);
      hs.push(ch);
    }
    if (i !== levels - 1) {
      if (c.resblockType === "ddpm") {
        if (c.resampWithConv) conv(at(), ch, ch, 3);
        else m++;
      } else res(ch, ch, true);
      hs.push(ch);
    }
  }
  res(ch, ch, false);
  attn(ch);
  res(ch, ch, false);
  for (let i = levels - 1; i >= 0; i--) {
    for (let b = 0; b < c.numResBlocks + 1; b++) {
      res(ch + hs.pop()!, nf * c.chMult[i], false);
      ch = nf * c.chMult[i];
    }
    if (c.attnResolutions.includes(c.resolution >> i)) attn(ch);
    if (i !== 0) {
      if (c.resblockType === "ddpm") {
        if (c.resampWithConv) conv(at(), ch, ch, 3);
        else m++;
      } else res(ch, ch, true);
    }
  }
  norm(at(), ch);
  conv(at(), ch, c.channels, 3);
  return shapes;
}

/** `nn.Linear`: x [N, in] · weightᵀ + bias. */
function dense(p: NcsnppParams, k: string, x: Tensor): Tensor {
  return add(matmul(x, p[`${k}.weight`], false, true), p[`${k}.bias`]);
}

function conv(p: NcsnppParams, k: string, x: Tensor, stride = 1, padding = 1): Tensor {
  return conv2d(x, p[`${k}.weight`], { stride, padding }, p[`${k}.bias`]);
}

function norm(p: NcsnppParams, k: string, x: Tensor): Tensor {
  return groupNorm(x, groupsOf(x.shape[1]), p[`${k}.weight`], p[`${k}.bias`], 1e-6);
}

/** `NIN`: a per-position dense layer, W [in, out], over [N, C, H, W]. */
function nin(p: NcsnppParams, k: string, x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const rows = reshape(permute(x, [0, 2, 3, 1]), [n * h * w, c]);
  const y = add(matmul(rows, p[`${k}.W`]), p[`${k}.b`]);
  return permute(reshape(y, [n, h, w, y.shape[1]]), [0, 3, 1, 2]);
}

const rescale = (c: NcsnppConfig, x: Tensor, h: Tensor) =>
  c.skipRescale ? mul(add(x, h), Math.SQRT1_2) : add(x, h);

/** `AttnBlockpp`: single-head self-attention over the H·W positions. */
function attnBlock(p: NcsnppParams, c: NcsnppConfig, k: string, x: Tensor): Tensor {
  const [n, ch, hh, ww] = x.shape, l = hh * ww;
  const h = norm(p, `${k}.GroupNorm_0`, x);
  // [N, L, C] rows of q, k, v
  const rows = (i: number) =>
    reshape(permute(nin(p, `${k}.NIN_${i}`, h), [0, 2, 3, 1]), [n, l, ch]);
  const q = rows(0), kk = rows(1), v = rows(2);
  const w = softmax(mul(matmul(q, kk, false, true), 1 / Math.sqrt(ch)), -1);
  const a = permute(reshape(matmul(w, v), [n, hh, ww, ch]), [0, 3, 1, 2]);
  return rescale(c, x, nin(p, `${k}.NIN_3`, a));
}

/** The time embedding's per-channel shift of a residual block: Dense_0(SiLU(temb)). */
function shift(p: NcsnppParams, k: string, temb: Tensor | null): Tensor | null {
  if (!temb) return null;
  const s = dense(p, `${k}.Dense_0`, silu(temb));
  return reshape(s, [s.shape[0], s.shape[1], 1, 1]);
}

/** `ResnetBlockBigGANpp` (with its own up/down) or `ResnetBlockDDPMpp`. */
function resBlock(
  p: NcsnppParams,
  c: NcsnppConfig,
  k: string,
  x: Tensor,
  temb: Tensor | null,
  resample: "up" | "down" | null = null,
): Tensor {
  let h = silu(norm(p, `${k}.GroupNorm_0`, x));
  if (resample === "up") {
    h = upsampleNearest2x(h);
    x = upsampleNearest2x(x);
  } else if (resample === "down") {
    h = avgPool2x2(h);
    x = avgPool2x2(x);
  }
  h = conv(p, `${k}.Conv_0`, h);
  const s = shift(p, k, temb);
  if (s) h = add(h, s);
  h = conv(p, `${k}.Conv_1`, silu(norm(p, `${k}.GroupNorm_1`, h)));
  if (`${k}.Conv_2.weight` in p) x = conv(p, `${k}.Conv_2`, x, 1, 0);
  else if (`${k}.NIN_0.W` in p) x = nin(p, `${k}.NIN_0`, x);
  return rescale(c, x, h);
}

/** score_sde's `get_timestep_embedding` in its float32 arithmetic, on the host. */
function positionalOnHost(x: Tensor, labels: Float64Array, dim: number): Tensor {
  const half = Math.floor(dim / 2), step = Math.fround(-Math.log(10000) / (half - 1));
  const out = new Float64Array(labels.length * dim);
  for (let j = 0; j < half; j++) {
    const freq = Math.fround(Math.exp(Math.fround(j * step)));
    for (let b = 0; b < labels.length; b++) {
      const arg = Math.fround(Math.fround(labels[b]) * freq);
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

/** σ(t) = σ_min (σ_max/σ_min)^t of a VE model's time input, or log σ(t), per example [B]. */
function veSigmaOf(c: NcsnppConfig, x: Tensor, t: Tensor, log: boolean): Tensor {
  const low = Math.log(c.sigmaMin!), span = Math.log(c.sigmaMax! / c.sigmaMin!);
  const host = t.requiresGrad ? null : t.hostValues();
  if (host) {
    const f = (v: number) => log ? low + v * span : Math.exp(low + v * span);
    return tensor(x.backend, host.map(f), [host.length], x.dtype);
  }
  const logSigma = add(mul(t, span), low);
  return log ? logSigma : exp(logSigma);
}

/** The embedding of the time input, before the two dense layers. */
function timeFeatures(p: NcsnppParams, c: NcsnppConfig, x: Tensor, t: Tensor): Tensor {
  if (c.embeddingType === "fourier") {
    const w = p[`all_modules.0.W`];
    const logSigma = reshape(veSigmaOf(c, x, t, true), [t.size, 1]);
    const arg = mul(mul(logSigma, reshape(w, [1, w.size])), 2 * Math.PI);
    return concat([sin(arg), cos(arg)], 1);
  }
  if (c.timeInput === "999t") {
    const host = t.requiresGrad ? null : t.hostValues();
    if (host) return positionalOnHost(x, host.map((v) => Math.fround(v * 999)), c.nf);
    return positionalOnDevice(x, mul(t, 999), c.nf);
  }
  return positionalOnDevice(x, veSigmaOf(c, x, t, false), c.nf);
}

/** DDPM-type down- and upsampling modules (`Downsample`, `Upsample` with fir = False). */
function downsample(p: NcsnppParams, c: NcsnppConfig, k: string, x: Tensor): Tensor {
  if (!c.resampWithConv) return avgPool2x2(x);
  // F.pad(x, (0, 1, 0, 1)) then a 3×3 convolution of stride 2 without padding
  return conv(p, `${k}.Conv_0`, pad(x, [0, 0, 0, 0], [0, 0, 1, 1]), 2, 0);
}

function upsample(p: NcsnppParams, c: NcsnppConfig, k: string, x: Tensor): Tensor {
  const h = upsampleNearest2x(x);
  return c.resampWithConv ? conv(p, `${k}.Conv_0`, h) : h;
}

/**
 * The network's output for x [N, C, H, W] at SDE times t [N], in score_sde's convention: the
 * raw network output (its ε-prediction scale for VP and sub-VP; divided by σ when
 * `scale_by_sigma`, a score, for VE).
 */
export function ncsnppForward(p: NcsnppParams, c: NcsnppConfig, x: Tensor, t: Tensor): Tensor {
  let m = 0;
  const next = () => `all_modules.${m++}`;
  let temb: Tensor | null = timeFeatures(p, c, x, t);
  if (c.embeddingType === "fourier") m++;
  if (c.conditional) {
    temb = dense(p, next(), temb);
    temb = dense(p, next(), silu(temb));
  } else temb = null;
  const input = c.centered ? x : add(mul(x, 2), -1);
  const levels = c.chMult.length;
  const hs = [conv(p, next(), input)];
  for (let i = 0; i < levels; i++) {
    for (let b = 0; b < c.numResBlocks; b++) {
      let h = resBlock(p, c, next(), hs[hs.length - 1], temb);
      if (c.attnResolutions.includes(h.shape[3])) h = attnBlock(p, c, next(), h);
      hs.push(h);
    }
    if (i !== levels - 1) {
      const k = next(), last = hs[hs.length - 1];
      hs.push(
        c.resblockType === "ddpm"
          ? downsample(p, c, k, last)
          : resBlock(p, c, k, last, temb, "down"),
      );
    }
  }
  let h = resBlock(p, c, next(), hs[hs.length - 1], temb);
  h = attnBlock(p, c, next(), h);
  h = resBlock(p, c, next(), h, temb);
  for (let i = levels - 1; i >= 0; i--) {
    for (let b = 0; b < c.numResBlocks + 1; b++) {
      h = resBlock(p, c, next(), concat([h, hs.pop()!], 1), temb);
    }
    if (c.attnResolutions.includes(h.shape[3])) h = attnBlock(p, c, next(), h);
    if (i !== 0) {
      const k = next();
      h = c.resblockType === "ddpm" ? upsample(p, c, k, h) : resBlock(p, c, k, h, temb, "up");
    }
  }
  h = silu(norm(p, next(), h));
  h = conv(p, next(), h);
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
