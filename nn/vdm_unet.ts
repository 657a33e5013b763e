/**
 * The score U-Net of Variational Diffusion Models (Kingma et al. 2021) as i-DODE trains it
 * (Zheng et al. 2023; docs/idode.md): no resampling at all — a 3×3 input convolution, `nLayer`
 * residual blocks at full resolution, a middle of block, attention, block, then `nLayer + 1`
 * blocks on the concatenated skips, GroupNorm–swish–conv out, plus the input itself (the "base
 * measure"). Times enter through a sinusoidal embedding of 1000·t followed by two dense layers
 * with swish; optional base-2 Fourier features (2^6·2π and 2^7·2π) of the input join it at the
 * first convolution, and optional attention follows every block.
 *
 * Parameters keep the flax names of the original below its `score_model` scope
 * (`down.block_0/conv1/kernel`, `mid.attn_1/q/kernel`). Layouts: flax's Dense kernels as they are,
 * [in, out]; convolution kernels, [kh, kw, in, out] in flax, are stored as [out, in, kh, kw], the
 * layout conv2d takes, by the importer. GroupNorm: 32 groups, ε = 1e-6, flax's defaults.
 */

import {
  add,
  type Backend,
  concat,
  conv2d,
  cos,
  type DType,
  groupNorm,
  keep,
  matmul,
  mul,
  permute,
  reshape,
  type Rng,
  sigmoid,
  silu,
  sin,
  softmax,
  type Tensor,
  tensor,
  zeros,
} from "../compute/mod.ts";

export interface VdmUnetConfig {
  resolution: number;
  channels: number;
  /** sm_n_embd: the width of every block; the time embedding is 4× this */
  nEmbd: number;
  /** sm_n_layer: residual blocks before the middle (and nLayer + 1 after it) */
  nLayer: number;
  /** with_fourier_features */
  fourierFeatures: boolean;
  /** with_attention: attention after every down and up block (the middle always has one) */
  attention: boolean;
  /**
   * `raw`: the network's own output (i-DODE's VP velocity, or ε). `sp-eps`: i-DODE's SP velocity
   * F̂ turned into ε̂ = √2 α F̂ + x with α = sigmoid(−γ/2) on the γ range below, since F̂ is
   * not a parameterisation this toolkit has (docs/idode.md).
   */
  output: "raw" | "sp-eps";
  gammaMin: number;
  gammaMax: number;
}

export type VdmUnetParams = Record<string, Tensor>;

const GROUPS = 32, NORM_EPS = 1e-6;
const FOURIER_EXPONENTS = [6, 7];

/** The checks a configuration must pass; a message naming the field, or null. */
export function invalidVdmUnet(c: VdmUnetConfig): string | null {
  if (!(c.nEmbd > 0 && c.nEmbd % GROUPS === 0)) {
    return `sm_n_embd must be a positive multiple of ${GROUPS} (GroupNorm's groups), found ${c.nEmbd}`;
  }
  if (!(Number.isInteger(c.nLayer) && c.nLayer >= 0)) {
    return `sm_n_layer must be an integer ≥ 0, found ${c.nLayer}`;
  }
  if (!(c.gammaMax > c.gammaMin)) return `gamma_max must exceed gamma_min`;
  return null;
}

/** Every parameter's name and shape (convolutions in the [out, in, kh, kw] layout). */
export function vdmUnetShapes(c: VdmUnetConfig): Map<string, number[]> {
  const s = new Map<string, number[]>();
  const n = c.nEmbd, temb = 4 * n;
  const dense = (k: string, i: number, o: number, bias = true) => {
    s.set(`${k}/kernel`, [i, o]);
    if (bias) s.set(`${k}/bias`, [o]);
  };
  const conv = (k: string, i: number, o: number) => {
    s.set(`${k}/kernel`, [o, i, 3, 3]);
    s.set(`${k}/bias`, [o]);
  };
  const norm = (k: string, ch: number) => {
    s.set(`${k}/scale`, [ch]);
    s.set(`${k}/bias`, [ch]);
  };
  const block = (k: string, i: number) => {
    norm(`${k}/GroupNorm_0`, i);
    conv(`${k}/conv1`, i, n);
    dense(`${k}/cond_proj`, temb, n, false);
    norm(`${k}/GroupNorm_1`, n);
    conv(`${k}/conv2`, n, n);
    if (i !== n) dense(`${k}/nin_shortcut`, i, n);
  };
  const attn = (k: string) => {
    norm(`${k}/GroupNorm_0`, n);
    for (const q of ["q", "k", "v", "proj_out"]) dense(`${k}/${q}`, n, n);
  };
  // the conditioning scalar (always 0 in i-DODE) is the embedding's last input
  dense("dense0", n + 1, temb);
  dense("dense1", temb, temb);
  const inputs = c.channels * (1 + (c.fourierFeatures ? 2 * FOURIER_EXPONENTS.length : 0));
  conv("conv_in", inputs, n);
  for (let i = 0; i < c.nLayer; i++) {
    block(`down.block_${i}`, n);
    if (c.attention) attn(`down.attn_${i}`);
  }
  block("mid.block_1", n);
  attn("mid.attn_1");
  block("mid.block_2", n);
  for (let i = 0; i < c.nLayer + 1; i++) {
    block(`up.block_${i}`, 2 * n);
    if (c.attention) attn(`up.attn_${i}`);
  }
  norm("GroupNorm_0", n);
  conv("conv_out", n, c.channels);
  return s;
}

function norm(p: VdmUnetParams, k: string, x: Tensor): Tensor {
  return groupNorm(x, GROUPS, p[`${k}/scale`], p[`${k}/bias`], NORM_EPS);
}

function conv(p: VdmUnetParams, k: string, x: Tensor): Tensor {
  return conv2d(x, p[`${k}/kernel`], { stride: 1, padding: 1 }, p[`${k}/bias`]);
}

/** A flax Dense over the channels of [N, C, H, W] (a per-position product, kernel [in, out]). */
function densePerPosition(p: VdmUnetParams, k: string, x: Tensor): Tensor {
  const [b, ch, h, w] = x.shape;
  const rows = reshape(permute(x, [0, 2, 3, 1]), [b * h * w, ch]);
  const y = add(matmul(rows, p[`${k}/kernel`]), p[`${k}/bias`]);
  return permute(reshape(y, [b, h, w, y.shape[1]]), [0, 3, 1, 2]);
}

function resnetBlock(p: VdmUnetParams, k: string, x: Tensor, cond: Tensor): Tensor {
  let h = conv(p, `${k}/conv1`, silu(norm(p, `${k}/GroupNorm_0`, x)));
  const shift = matmul(cond, p[`${k}/cond_proj/kernel`]);
  h = add(h, reshape(shift, [shift.shape[0], shift.shape[1], 1, 1]));
  // dropout (sm_pdrop) acts in training only: evaluation is deterministic
  h = conv(p, `${k}/conv2`, silu(norm(p, `${k}/GroupNorm_1`, h)));
  const skip = `${k}/nin_shortcut/kernel` in p ? densePerPosition(p, `${k}/nin_shortcut`, x) : x;
  return add(skip, h);
}

/** Single-head self-attention over the H·W positions, 1/√C scaling, residual. */
function attnBlock(p: VdmUnetParams, k: string, x: Tensor): Tensor {
  const [b, ch, hh, ww] = x.shape, l = hh * ww;
  const h = norm(p, `${k}/GroupNorm_0`, x);
  const rows = (name: string) =>
    reshape(permute(densePerPosition(p, `${k}/${name}`, h), [0, 2, 3, 1]), [b, l, ch]);
  const w = softmax(mul(matmul(rows("q"), rows("k"), false, true), 1 / Math.sqrt(ch)), -1);
  const a = permute(reshape(matmul(w, rows("v")), [b, hh, ww, ch]), [0, 3, 1, 2]);
  return add(x, densePerPosition(p, `${k}/proj_out`, a));
}

/**
 * The network's own time, as the original forms it in float32 from the γ it is fed:
 * γ = γmin + (γmax − γmin)t, then t = (γ − γmin)/(γmax − γmin).
 */
function originalTime(c: VdmUnetConfig, t: number): number {
  const f = Math.fround, lo = f(c.gammaMin), span = f(c.gammaMax - c.gammaMin);
  const gamma = f(f(span * f(t)) + lo);
  return f(f(gamma - lo) / span);
}

/**
 * The sinusoidal embedding of 1000·t in the original's float32 arithmetic (on the host when t's
 * values are there, as the ODE solvers upload them), then [sin, cos].
 */
function timeEmbedding(c: VdmUnetConfig, x: Tensor, t: Tensor): Tensor {
  const dim = c.nEmbd;
  const half = Math.floor(dim / 2), step = Math.fround(Math.log(10000) / (half - 1));
  const host = t.requiresGrad ? null : t.hostValues();
  if (host) {
    const out = new Float64Array(host.length * dim);
    for (let j = 0; j < half; j++) {
      const freq = Math.fround(Math.exp(Math.fround(-Math.fround(j * step))));
      for (let b = 0; b < host.length; b++) {
        const arg = Math.fround(Math.fround(originalTime(c, host[b]) * 1000) * freq);
        out[b * dim + j] = Math.sin(arg);
        out[b * dim + half + j] = Math.cos(arg);
      }
    }
    return tensor(x.backend, out, [host.length, dim], x.dtype);
  }
  const freqs = Array.from({ length: half }, (_, j) => Math.exp(-j * step));
  const arg = mul(reshape(mul(t, 1000), [t.size, 1]), tensor(x.backend, freqs, [1, half], x.dtype));
  return concat([sin(arg), cos(arg)], 1);
}

/**
 * Base-2 Fourier features in the original's channel order: for each channel c and exponent e,
 * sin(2^e·2π·x_c), c-major, then the cosines in the same order.
 */
function fourierFeatures(x: Tensor): Tensor {
  const [b, ch, h, w] = x.shape, k = FOURIER_EXPONENTS.length;
  const freqs = FOURIER_EXPONENTS.map((e) => Math.fround(2 ** e * 2 * Math.PI));
  const scaled = mul(
    reshape(x, [b, ch, 1, h, w]),
    tensor(x.backend, freqs, [1, 1, k, 1, 1], x.dtype),
  );
  const flat = (v: Tensor) => reshape(v, [b, ch * k, h, w]);
  return concat([flat(sin(scaled)), flat(cos(scaled))], 1);
}

/**
 * x [B, C, H, W] at times t [B] (the linear-γ schedule's t, t = (γ − γmin)/(γmax − γmin), which
 * is what the original computes from γ) → the network's output, or ε̂ for `output: "sp-eps"`.
 */
export function vdmUnetForward(p: VdmUnetParams, c: VdmUnetConfig, x: Tensor, t: Tensor): Tensor {
  const b = x.shape[0];
  const temb = timeEmbedding(c, x, t);
  let cond = concat([temb, zeros(x.backend, [b, 1], x.dtype)], 1);
  cond = silu(add(matmul(cond, p["dense0/kernel"]), p["dense0/bias"]));
  cond = silu(add(matmul(cond, p["dense1/kernel"]), p["dense1/bias"]));
  const input = c.fourierFeatures ? concat([x, fourierFeatures(x)], 1) : x;
  const hs = [conv(p, "conv_in", input)];
  for (let i = 0; i < c.nLayer; i++) {
    let h = resnetBlock(p, `down.block_${i}`, hs[hs.length - 1], cond);
    if (c.attention) h = attnBlock(p, `down.attn_${i}`, h);
    hs.push(h);
  }
  let h = resnetBlock(p, "mid.block_1", hs[hs.length - 1], cond);
  h = attnBlock(p, "mid.attn_1", h);
  h = resnetBlock(p, "mid.block_2", h, cond);
  for (let i = 0; i < c.nLayer + 1; i++) {
    h = resnetBlock(p, `up.block_${i}`, concat([h, hs.pop()!], 1), cond);
    if (c.attention) h = attnBlock(p, `up.attn_${i}`, h);
  }
  h = conv(p, "conv_out", silu(norm(p, "GroupNorm_0", h)));
  const out = add(h, x);
  if (c.output === "raw") return out;
  // ε̂ = √2 α F̂ + x, α = sigmoid(−γ/2) of the network's own γ range
  const span = c.gammaMax - c.gammaMin;
  const host = t.requiresGrad ? null : t.hostValues();
  const alpha = host
    ? tensor(
      x.backend,
      host.map((v) => 1 / (1 + Math.exp((c.gammaMin + span * v) / 2))),
      [b],
      x.dtype,
    )
    : sigmoid(mul(add(mul(t, span), c.gammaMin), -0.5));
  return add(mul(out, mul(reshape(alpha, [b, 1, 1, 1]), Math.SQRT2)), x);
}

/** Fresh parameters: N(0, 1/fan-in) kernels, zero biases, unit GroupNorm scales. */
export function initVdmUnet(
  backend: Backend,
  rng: Rng,
  c: VdmUnetConfig,
  dtype: DType,
): VdmUnetParams {
  const p: VdmUnetParams = {};
  for (const [name, shape] of vdmUnetShapes(c)) {
    if (name.endsWith("/scale")) p[name] = keep(add(zeros(backend, shape, dtype), 1));
    else if (name.endsWith("/bias")) p[name] = keep(zeros(backend, shape, dtype));
    else {
      const fanIn = shape.length === 4 ? shape[1] * shape[2] * shape[3] : shape[0];
      p[name] = keep(mul(rng.derive(name).normal(backend, shape, dtype), 1 / Math.sqrt(fanIn)));
    }
  }
  return p;
}

/** One line for reports. */
export function describeVdmUnet(c: VdmUnetConfig): string {
  const attention = c.attention ? "after every block" : "in the middle";
  return `i-DODE vdm unet (${c.nEmbd} channels, ${c.nLayer} + ${
    c.nLayer + 1
  } blocks, attention ${attention}${c.fourierFeatures ? ", Fourier features" : ""})`;
}
