/**
 * TensorFlow.js peer of the benchmark suite: the cases of the suite's case list (matmul, conv2d
 * forward/backward, GroupNorm, attention, the unet28 U-Net and the toy MLP) written in plain
 * tfjs on its wasm or WebGPU backend, timed the same way as ours (warm-up, then --reps runs,
 * each ending in a readback).
 *
 * The suite (bench/peers/) runs it as a subprocess and reads one JSON object from stdout:
 *
 *   deno run -A bench/peers/tfjs_peer.ts --backend wasm|webgpu [--cases a,b,...] [--reps N]
 *
 * → {"peer": "tfjs-wasm", "tfjs": "4.22.0", "unet28_params": n, "results": [{name, backend,
 * ms_median, ms_min, ms_max}], ...}; progress goes to stderr. A backend that cannot start gives
 * {"peer", "skipped": reason, "results": []} and exit status 0. Without a GPU, WebGPU needs a
 * software Vulkan driver (lavapipe) and DENO_WEBGPU_BACKEND=vulkan, XDG_RUNTIME_DIR set.
 *
 * Layouts are tfjs's own (NHWC images, [kh, kw, in, out] filters); the networks mirror
 * nn/unet.ts and nn/mlp.ts layer for layer, so unet28_params equals our unetParamCount.
 * tfjs-backend-wasm ships no Conv2DBackpropFilter kernel: this peer registers one built from
 * wasm's own kernels (see registerWasmConvFilterGrad); everything else is tfjs as shipped.
 */

import * as tf from "@tensorflow/tfjs";
import * as tfwasm from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";

type BackendName = "wasm" | "webgpu";

const ALL_CASES = [
  "matmul.256",
  "matmul.512",
  "matmul.1024",
  "conv2d.3x3.64x64.28.b64.fwd",
  "conv2d.3x3.64x64.28.b64.bwd",
  "groupnorm",
  "attention.7x7",
  "unet28.forward",
  "unet28.train_step",
  "unet28.divergence",
  "mlp.train_step.b1024",
];

const log = (msg: string) => console.error(`[tfjs-peer] ${msg}`);

// ---------------------------------------------------------------------------------------------
// Command line

interface Args {
  backend: BackendName;
  cases: string[];
  reps: number;
  /** training steps per timed run (times are per step), from bench/steps_per_read.ts */
  stepsPerRead: Record<string, number>;
}

function parseArgs(argv: string[]): Args {
  let backend: string | undefined, cases = ALL_CASES, reps = 5;
  let stepsPerRead: Record<string, number> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--backend") backend = value();
    else if (flag === "--cases") cases = value().split(",").map((s) => s.trim()).filter(Boolean);
    else if (flag === "--reps") reps = Number(value());
    else if (flag === "--steps-per-read") stepsPerRead = JSON.parse(value());
    else throw new Error(`unknown argument ${flag}`);
  }
  if (backend !== "wasm" && backend !== "webgpu") {
    throw new Error(`--backend must be wasm or webgpu, got ${backend}`);
  }
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer`);
  const unknown = cases.filter((c) => !ALL_CASES.includes(c));
  if (unknown.length > 0) {
    throw new Error(`unknown case(s) ${unknown.join(", ")}; known: ${ALL_CASES.join(", ")}`);
  }
  return { backend, cases, reps, stepsPerRead };
}

// ---------------------------------------------------------------------------------------------
// Backend start-up

/**
 * tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter kernel, so the filter gradient of
 * every convolution fails on wasm. This supplies it from wasm's own kernels (XNNPACK's conv and
 * transposes): dW[i, j, c, o] = Σ_{n,y,x} x_pad[n, s·y + i, s·x + j, c] · dy[n, y, x, o] is a
 * stride-1 convolution of x viewed as [C, H, W, N] with dy viewed as the filter [oh, ow, N, O],
 * dilated by the forward stride, giving [C, kh, kw, O], transposed to [kh, kw, C, O].
 */
export function registerWasmConvFilterGrad(): boolean {
  if (tf.getKernel("Conv2DBackpropFilter", "wasm")) return false;
  const run = (name: string, inputs: tf.NamedTensorInfoMap, backend: object, attrs: object) => {
    const k = tf.getKernel(name, "wasm");
    if (!k) throw new Error(`wasm kernel ${name} missing`);
    return k.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
  };
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as {
        strides: number | [number, number];
        pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
        dataFormat: "NHWC" | "NCHW";
        dimRoundingMode?: "floor" | "round" | "ceil";
        filterShape: [number, number, number, number];
      };
      if (a.dataFormat === "NCHW") throw new Error("Conv2DBackpropFilter: NHWC only");
      const xShape = x.shape as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo(
        xShape,
        a.filterShape,
        a.strides,
        1,
        a.pad,
        a.dimRoundingMode,
      );
      const [n, h, w, c] = xShape;
      const { top, left } = info.padInfo;
      // Rows/columns past the last window are never read: pad up to it, or cut them off.
      const bottom = (info.outHeight - 1) * info.strideHeight + info.filterHeight - h - top;
      const right = (info.outWidth - 1) * info.strideWidth + info.filterWidth - w - left;
      const disposable: tf.TensorInfo[] = [];
      let xin = x;
      if (bottom < 0 || right < 0) {
        xin = run("Slice", { x }, backend, {
          begin: [0, 0, 0, 0],
          size: [n, h + Math.min(bottom, 0), w + Math.min(right, 0), c],
        });
        disposable.push(xin);
      }
      const xT = run("Transpose", { x: xin }, backend, { perm: [3, 1, 2, 0] });
      const dyT = run("Transpose", { x: dy }, backend, { perm: [1, 2, 0, 3] });
      const r = run("Conv2D", { x: xT, filter: dyT }, backend, {
        strides: [1, 1],
        pad: [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]],
        dataFormat: "NHWC",
        dilations: [info.strideHeight, info.strideWidth],
      });
      const out = run("Transpose", { x: r }, backend, { perm: [1, 2, 0, 3] });
      disposable.push(xT, dyT, r);
      const b = backend as { disposeData(dataId: object): boolean };
      for (const t of disposable) b.disposeData(t.dataId);
      return out;
    },
  });
  return true;
}

/** Starts the backend; returns details to report, or a reason to skip. */
async function startBackend(
  name: BackendName,
): Promise<{ detail: Record<string, unknown> } | { skipped: string }> {
  if (name === "wasm") {
    // The .wasm binaries sit next to the package's entry file in Deno's npm cache (no
    // node_modules); import.meta.resolve gives that file as a file: URL, and the Emscripten
    // loader reads file: URLs with node:fs.
    const dist = new URL("./", import.meta.resolve("@tensorflow/tfjs-backend-wasm"));
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") as boolean;
    const threadsSupported = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT") as boolean;
    const binary = simd && threadsSupported
      ? "tfjs-backend-wasm-threaded-simd.wasm"
      : simd
      ? "tfjs-backend-wasm-simd.wasm"
      : "tfjs-backend-wasm.wasm";
    try {
      await Deno.stat(new URL(binary, dist));
    } catch (e) {
      return { skipped: `wasm binary ${binary} not found under ${dist.href}: ${e}` };
    }
    tfwasm.setWasmPaths(dist.href);
    tfwasm.setThreadsCount(navigator.hardwareConcurrency);
    if (!await tf.setBackend("wasm")) return { skipped: "tf.setBackend('wasm') failed" };
    await tf.ready();
    const polyfilled = registerWasmConvFilterGrad();
    return {
      detail: {
        wasm_binary: new URL(binary, dist).href,
        simd,
        threads: tfwasm.getThreadsCount(),
        threads_note: threadsSupported ? undefined : "tfjs turns wasm threads off when it " +
          "detects Node (Deno's npm compatibility counts as Node); one thread",
        conv2d_filter_grad: polyfilled
          ? "tfjs-backend-wasm has no Conv2DBackpropFilter kernel; supplied by this peer from " +
            "wasm's Transpose + Conv2D (XNNPACK) kernels"
          : "native",
      },
    };
  }
  if (!("gpu" in navigator) || !navigator.gpu) return { skipped: "navigator.gpu is missing" };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { skipped: "no WebGPU adapter (navigator.gpu.requestAdapter() → null)" };
  const adapterInfo = adapter.info;
  let ok = false;
  try {
    ok = await tf.setBackend("webgpu");
    await tf.ready();
  } catch (e) {
    return { skipped: `tfjs-webgpu failed to initialise: ${e}` };
  }
  if (!ok) return { skipped: "tf.setBackend('webgpu') failed" };
  return {
    detail: {
      adapter: adapterInfo.description ||
        [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device].join(" / "),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Layers

type Var = tf.Variable;
export interface Dense {
  w: Var;
  b: Var;
}
interface Conv {
  w: Var;
  b: Var;
}
interface GroupNormP {
  gamma: Var;
  beta: Var;
}

/** Every variable made here, for the parameter count and the optimizer's list. */
export class ParamSet {
  readonly vars: Var[] = [];
  private seed = 1;

  add(t: tf.Tensor): Var {
    const v = tf.variable(t, true);
    t.dispose();
    this.vars.push(v);
    return v;
  }

  /** DDPM's default_init(scale): U(±√(3·scale/fan_avg)); scale 0 gives zeros. */
  fanAvg(shape: number[], fanIn: number, fanOut: number, scale: number): Var {
    if (scale === 0) return this.add(tf.zeros(shape));
    const bound = Math.sqrt(3 * scale / ((fanIn + fanOut) / 2));
    return this.add(tf.randomUniform(shape, -bound, bound, "float32", this.seed++));
  }

  /** nn/init.ts's uniformFanIn: U(±1/√fanIn). */
  fanIn(shape: number[], fanIn: number): Var {
    const bound = 1 / Math.sqrt(fanIn);
    return this.add(tf.randomUniform(shape, -bound, bound, "float32", this.seed++));
  }

  count(): number {
    return this.vars.reduce((n, v) => n + v.size, 0);
  }
}

const GN_EPS = 1e-6;
const NIN_SCALE = 0.1;

function denseDdpm(ps: ParamSet, inDim: number, outDim: number, scale = 1): Dense {
  return { w: ps.fanAvg([inDim, outDim], inDim, outDim, scale), b: ps.add(tf.zeros([outDim])) };
}

function convDdpm(ps: ParamSet, inC: number, outC: number, k: number, scale = 1): Conv {
  const area = k * k;
  return {
    w: ps.fanAvg([k, k, inC, outC], inC * area, outC * area, scale),
    b: ps.add(tf.zeros([outC])),
  };
}

function groupNormParams(ps: ParamSet, c: number): GroupNormP {
  return { gamma: ps.add(tf.ones([c])), beta: ps.add(tf.zeros([c])) };
}

function dense(p: Dense, x: tf.Tensor): tf.Tensor2D {
  return tf.fused.matMul({ a: x as tf.Tensor2D, b: p.w as tf.Tensor2D, bias: p.b }) as tf.Tensor2D;
}

/** k×k convolution with symmetric padding (k − 1)/2, as nn/conv2d.ts (not TF's "same"). */
function conv(p: Conv, x: tf.Tensor4D, stride = 1): tf.Tensor4D {
  const k = p.w.shape[0];
  return tf.fused.conv2d({
    x,
    filter: p.w as tf.Tensor4D,
    bias: p.b,
    strides: stride,
    pad: (k - 1) / 2,
  });
}

const silu = <T extends tf.Tensor>(x: T): T => tf.mul(x, tf.sigmoid(x));

/** GroupNorm of NHWC x: biased moments over (H, W, channels of the group). */
export function groupNorm(
  x: tf.Tensor4D,
  groups: number,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps = GN_EPS,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  const normed = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps))), x.shape);
  return tf.add(tf.mul(normed, gamma), beta);
}

const gn = (p: GroupNormP, x: tf.Tensor4D, groups: number) => groupNorm(x, groups, p.gamma, p.beta);

/** softmax(q kᵀ/√d) v over the last two axes. */
export function attention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor3D {
  const d = q.shape[2];
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d));
  return tf.matMul(tf.softmax(scores), v);
}

/** [sin(s·ω_j), cos(s·ω_j)], s = 1000·t, ω_j = 10000^(−j/half), as nn/time_embedding.ts. */
function sinusoidal(t: tf.Tensor1D, features: number, scale = 1000): tf.Tensor2D {
  const half = features / 2;
  const omega = new Float32Array(half);
  for (let j = 0; j < half; j++) omega[j] = scale * Math.exp(-Math.log(10000) * j / half);
  const arg = tf.mul(tf.reshape(t, [t.size, 1]), tf.tensor2d(omega, [1, half]));
  return tf.concat([tf.sin(arg), tf.cos(arg)], 1) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------
// The U-Net (nn/unet.ts, nn/res_block.ts, nn/attention_block.ts)

export interface UnetConfig {
  channels: number;
  resolution: number;
  base: number;
  mults: number[];
  resBlocks: number;
  attnResolutions: number[];
  groups: number;
  timeFeatures: number;
}

export const UNET28: UnetConfig = {
  channels: 1,
  resolution: 28,
  base: 32,
  mults: [1, 2, 2],
  resBlocks: 1,
  attnResolutions: [7],
  groups: 8,
  timeFeatures: 64,
};

interface ResBlock {
  norm0: GroupNormP;
  conv0: Conv;
  temb: Dense;
  norm1: GroupNormP;
  conv1: Conv;
  skip?: Conv;
}

interface AttnBlock {
  norm: GroupNormP;
  q: Dense;
  k: Dense;
  v: Dense;
  out: Dense;
}

export interface Unet {
  time: [Dense, Dense];
  input: Conv;
  down: { blocks: ResBlock[]; attention: AttnBlock[]; downsample?: Conv }[];
  middle: { res0: ResBlock; attention: AttnBlock; res1: ResBlock };
  up: { blocks: ResBlock[]; attention?: AttnBlock; upsample?: Conv }[];
  outNorm: GroupNormP;
  output: Conv;
}

function initResBlock(ps: ParamSet, inC: number, outC: number, tembDim: number): ResBlock {
  return {
    norm0: groupNormParams(ps, inC),
    conv0: convDdpm(ps, inC, outC, 3),
    temb: denseDdpm(ps, tembDim, outC),
    norm1: groupNormParams(ps, outC),
    conv1: convDdpm(ps, outC, outC, 3, 0),
    ...(inC !== outC ? { skip: convDdpm(ps, inC, outC, 1, NIN_SCALE) } : {}),
  };
}

function initAttnBlock(ps: ParamSet, c: number): AttnBlock {
  return {
    norm: groupNormParams(ps, c),
    q: denseDdpm(ps, c, c, NIN_SCALE),
    k: denseDdpm(ps, c, c, NIN_SCALE),
    v: denseDdpm(ps, c, c, NIN_SCALE),
    out: denseDdpm(ps, c, c, 0),
  };
}

/** The same plan as nn/unet_config.ts: stored skip widths are pushed on the way down. */
export function initUnet(ps: ParamSet, c: UnetConfig): Unet {
  const tembDim = 4 * c.base, last = c.mults.length - 1;
  const time: [Dense, Dense] = [
    denseDdpm(ps, c.timeFeatures, tembDim),
    denseDdpm(ps, tembDim, tembDim),
  ];
  const input = convDdpm(ps, c.channels, c.base, 3);
  const stored = [c.base];
  let ch = c.base;
  const widths = c.mults.map((m) => c.base * m);
  const attnAt = widths.map((_, i) => c.attnResolutions.includes(c.resolution / 2 ** i));
  const down = widths.map((width, i) => {
    const blocks: ResBlock[] = [], attention: AttnBlock[] = [];
    for (let j = 0; j < c.resBlocks; j++) {
      blocks.push(initResBlock(ps, ch, width, tembDim));
      if (attnAt[i]) attention.push(initAttnBlock(ps, width));
      stored.push(ch = width);
    }
    if (i === last) return { blocks, attention };
    stored.push(ch);
    return { blocks, attention, downsample: convDdpm(ps, width, width, 3) };
  });
  const mid = widths[last];
  const middle = {
    res0: initResBlock(ps, mid, mid, tembDim),
    attention: initAttnBlock(ps, mid),
    res1: initResBlock(ps, mid, mid, tembDim),
  };
  const up: Unet["up"] = new Array(widths.length);
  for (let i = last; i >= 0; i--) {
    const blocks: ResBlock[] = [];
    for (let j = 0; j <= c.resBlocks; j++) {
      blocks.push(initResBlock(ps, ch + stored.pop()!, widths[i], tembDim));
      ch = widths[i];
    }
    up[i] = {
      blocks,
      ...(attnAt[i] ? { attention: initAttnBlock(ps, widths[i]) } : {}),
      ...(i > 0 ? { upsample: convDdpm(ps, widths[i], widths[i], 3) } : {}),
    };
  }
  return {
    time,
    input,
    down,
    middle,
    up,
    outNorm: groupNormParams(ps, ch),
    output: convDdpm(ps, ch, c.channels, 3, 0),
  };
}

/** x: [N, H, W, C_in], tembAct: SiLU(temb) [N, tembDim] → [N, H, W, C_out]. */
function resBlock(p: ResBlock, x: tf.Tensor4D, tembAct: tf.Tensor2D, groups: number) {
  const outC = p.conv0.b.size;
  let h = conv(p.conv0, silu(gn(p.norm0, x, groups)));
  h = tf.add(h, tf.reshape(dense(p.temb, tembAct), [x.shape[0], 1, 1, outC]));
  h = conv(p.conv1, silu(gn(p.norm1, h, groups)));
  const skip = p.skip ? conv(p.skip, x) : x;
  return tf.mul(tf.add(skip, h), Math.SQRT1_2) as tf.Tensor4D;
}

/** Single-head self-attention over the H·W positions, (x + proj(attn)) / √2. */
function attnBlock(p: AttnBlock, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [n, hh, ww, c] = x.shape, l = hh * ww;
  const rows = tf.reshape(gn(p.norm, x, groups), [n * l, c]);
  const heads = (q: Dense) => tf.reshape(dense(q, rows), [n, l, c]) as tf.Tensor3D;
  const a = attention(heads(p.q), heads(p.k), heads(p.v));
  const h = tf.reshape(dense(p.out, tf.reshape(a, [n * l, c])), [n, hh, ww, c]);
  return tf.mul(tf.add(x, h), Math.SQRT1_2) as tf.Tensor4D;
}

/** x: [N, H, W, C], t: [N] → [N, H, W, C]; eval mode (no dropout). */
export function unetForward(p: Unet, c: UnetConfig, x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
  const temb = dense(p.time[1], silu(dense(p.time[0], sinusoidal(t, c.timeFeatures))));
  const act = silu(temb);
  let h = conv(p.input, x);
  const stored = [h];
  for (const level of p.down) {
    level.blocks.forEach((q, j) => {
      h = resBlock(q, h, act, c.groups);
      if (level.attention[j]) h = attnBlock(level.attention[j], h, c.groups);
      stored.push(h);
    });
    if (level.downsample) stored.push(h = conv(level.downsample, h, 2));
  }
  h = resBlock(p.middle.res0, h, act, c.groups);
  h = attnBlock(p.middle.attention, h, c.groups);
  h = resBlock(p.middle.res1, h, act, c.groups);
  for (let i = p.up.length - 1; i >= 0; i--) {
    const level = p.up[i];
    for (const q of level.blocks) {
      h = resBlock(q, tf.concat([h, stored.pop()!], 3), act, c.groups);
    }
    if (level.attention) h = attnBlock(level.attention, h, c.groups);
    if (level.upsample) {
      const [, hh, ww] = h.shape;
      h = conv(level.upsample, tf.image.resizeNearestNeighbor(h, [2 * hh, 2 * ww]));
    }
  }
  return conv(p.output, silu(gn(p.outNorm, h, c.groups)));
}

// ---------------------------------------------------------------------------------------------
// The toy MLP (nn/mlp.ts): [x, sinusoidal(t, 32)] → 128 → 128 → 128 → 2, SiLU between

export function initMlp(ps: ParamSet, widths: number[]): Dense[] {
  return widths.slice(1).map((w, i) => ({
    w: ps.fanIn([widths[i], w], widths[i]),
    b: ps.fanIn([w], widths[i]),
  }));
}

export function mlpForward(layers: Dense[], x: tf.Tensor2D, t: tf.Tensor1D): tf.Tensor2D {
  let h = tf.concat([x, sinusoidal(t, 32)], 1);
  layers.forEach((layer, i) => {
    h = dense(layer, h);
    if (i < layers.length - 1) h = silu(h);
  });
  return h;
}

// ---------------------------------------------------------------------------------------------
// Cases: each builds its inputs once and returns a step giving one tensor to read back

interface Case {
  step: () => tf.Tensor;
  dispose: () => void;
}

/** One scalar depending on every result, so reading it waits for all of them. */
const sumAll = (ts: tf.Tensor[]) => tf.addN(ts.map((t) => tf.sum(t)));

const B = 64;

/** variableGrads' map as the list applyGradients' typings accept. */
const named = (grads: tf.NamedTensorMap) =>
  Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));

function adam() {
  return tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
}

function makeCase(
  name: string,
  unet: Unet,
  unetVars: Var[],
  mlp: Dense[],
  mlpVars: Var[],
): Case {
  const inputs: tf.Tensor[] = [];
  const normal = (shape: number[]) => {
    const t = tf.randomNormal(shape);
    inputs.push(t);
    return t;
  };
  const uniform = (shape: number[]) => {
    const t = tf.randomUniform(shape, 0, 1);
    inputs.push(t);
    return t;
  };
  let extra = () => {};
  const done = {
    dispose: () => {
      tf.dispose(inputs);
      extra();
    },
  };

  if (name.startsWith("matmul.")) {
    const n = Number(name.slice("matmul.".length));
    const a = normal([n, n]) as tf.Tensor2D, b = normal([n, n]) as tf.Tensor2D;
    return { step: () => tf.matMul(a, b), ...done };
  }
  switch (name) {
    case "conv2d.3x3.64x64.28.b64.fwd": {
      const x = normal([B, 28, 28, 64]) as tf.Tensor4D, w = normal([3, 3, 64, 64]) as tf.Tensor4D;
      return { step: () => tf.conv2d(x, w, 1, 1), ...done };
    }
    case "conv2d.3x3.64x64.28.b64.bwd": {
      const x = normal([B, 28, 28, 64]), w = normal([3, 3, 64, 64]), g = normal([B, 28, 28, 64]);
      const grads = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 1), g))
      );
      return { step: () => tf.tidy(() => sumAll(grads([x, w]))), ...done };
    }
    case "groupnorm": {
      const x = normal([B, 28, 28, 64]), g = normal([B, 28, 28, 64]);
      const gamma = tf.ones([64]), beta = tf.zeros([64]);
      inputs.push(gamma, beta);
      const grads = tf.grads((xx: tf.Tensor, ga: tf.Tensor, be: tf.Tensor) =>
        tf.sum(tf.mul(groupNorm(xx as tf.Tensor4D, 8, ga, be), g))
      );
      return { step: () => tf.tidy(() => sumAll(grads([x, gamma, beta]))), ...done };
    }
    case "attention.7x7": {
      const [q, k, v, g] = [0, 1, 2, 3].map(() => normal([B, 49, 64]));
      const grads = tf.grads((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) =>
        tf.sum(tf.mul(attention(qq as tf.Tensor3D, kk as tf.Tensor3D, vv as tf.Tensor3D), g))
      );
      return { step: () => tf.tidy(() => sumAll(grads([q, k, v]))), ...done };
    }
    case "unet28.forward": {
      const x = normal([B, 28, 28, 1]) as tf.Tensor4D, t = uniform([B]) as tf.Tensor1D;
      return { step: () => tf.tidy(() => unetForward(unet, UNET28, x, t)), ...done };
    }
    case "unet28.train_step": {
      const x = normal([B, 28, 28, 1]) as tf.Tensor4D, t = uniform([B]) as tf.Tensor1D;
      const y = normal([B, 28, 28, 1]);
      const opt = adam();
      extra = () => opt.dispose();
      const loss = () => tf.mean(tf.squaredDifference(unetForward(unet, UNET28, x, t), y));
      // The loss is read after the update is issued; WebGPU runs submissions in order.
      return {
        step: () =>
          tf.tidy(() => {
            const { value, grads } = tf.variableGrads(loss as () => tf.Scalar, unetVars);
            opt.applyGradients(named(grads));
            return value;
          }),
        ...done,
      };
    }
    case "unet28.divergence": {
      const x = normal([B, 28, 28, 1]), t = uniform([B]) as tf.Tensor1D;
      const v = normal([B, 28, 28, 1]);
      const vjp = tf.grad((xx: tf.Tensor) =>
        tf.sum(tf.mul(unetForward(unet, UNET28, xx as tf.Tensor4D, t), v))
      );
      return { step: () => tf.tidy(() => vjp(x)), ...done };
    }
    case "mlp.train_step.b1024": {
      const x = normal([1024, 2]) as tf.Tensor2D, t = uniform([1024]) as tf.Tensor1D;
      const y = normal([1024, 2]);
      const opt = adam();
      extra = () => opt.dispose();
      const loss = () => tf.mean(tf.squaredDifference(mlpForward(mlp, x, t), y));
      return {
        step: () =>
          tf.tidy(() => {
            const { value, grads } = tf.variableGrads(loss as () => tf.Scalar, mlpVars);
            opt.applyGradients(named(grads));
            return value;
          }),
        ...done,
      };
    }
  }
  throw new Error(`unknown case ${name}`);
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Result {
  name: string;
  backend: string;
  ms_median: number;
  ms_min: number;
  ms_max: number;
}

async function timeOnce(step: () => tf.Tensor): Promise<number> {
  const t0 = performance.now();
  const out = step();
  await out.data();
  const ms = performance.now() - t0;
  out.dispose();
  return ms;
}

async function runCase(c: Case, reps: number): Promise<number[]> {
  // Two warm-ups (shader compilation, allocator, optimizer state), one when a run is slow.
  const first = await timeOnce(c.step);
  if (first < 5000) await timeOnce(c.step);
  const before = tf.memory().numTensors;
  const times: number[] = [];
  for (let r = 0; r < reps; r++) times.push(await timeOnce(c.step));
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) log(`warning: ${leaked} tensors left over after ${reps} runs`);
  return times;
}

function summarise(name: string, backend: string, times: number[]): Result {
  const s = [...times].sort((a, b) => a - b), m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return { name, backend, ms_median: r3(median), ms_min: r3(s[0]), ms_max: r3(s[s.length - 1]) };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(Deno.args);
  } catch (e) {
    console.error(`tfjs_peer: ${(e as Error).message}`);
    return 2;
  }
  const peer = `tfjs-${args.backend}`;
  const started = await startBackend(args.backend).catch((e) => ({
    skipped: `backend start failed: ${e instanceof Error ? e.message : e}`,
  }));
  if ("skipped" in started) {
    log(`skipped: ${started.skipped}`);
    console.log(
      JSON.stringify({ peer, tfjs: tf.version.tfjs, skipped: started.skipped, results: [] }),
    );
    return 0;
  }
  log(`backend ${tf.getBackend()} ${JSON.stringify(started.detail)}`);

  const unetParams = new ParamSet(), mlpParams = new ParamSet();
  const unet = initUnet(unetParams, UNET28);
  const mlp = initMlp(mlpParams, [2 + 32, 128, 128, 128, 2]);
  log(`unet28 parameters: ${unetParams.count()}`);

  const results: Result[] = [], failed: { name: string; error: string }[] = [];
  for (const name of args.cases) {
    log(`${name} ...`);
    let c: Case | undefined;
    try {
      c = makeCase(name, unet, unetParams.vars, mlp, mlpParams.vars);
      const steps = args.stepsPerRead[name] ?? 1, once = c.step;
      // `steps` steps per timed run, reading only the last one's result
      c.step = () => {
        for (let i = 1; i < steps; i++) once().dispose();
        return once();
      };
      const times = await runCase(c, args.reps);
      const r = summarise(name, peer, times.map((ms) => ms / steps));
      log(`${name}: median ${r.ms_median} ms (min ${r.ms_min}, max ${r.ms_max})`);
      results.push(r);
    } catch (e) {
      // One case the backend cannot run does not cost the others.
      const error = e instanceof Error ? e.message : String(e);
      log(`${name} failed: ${error}`);
      failed.push({ name, error });
    } finally {
      c?.dispose();
    }
  }
  console.log(JSON.stringify({
    peer,
    tfjs: tf.version.tfjs,
    backend_detail: started.detail,
    unet28_params: unetParams.count(),
    results,
    ...(failed.length > 0 ? { failed } : {}),
  }));
  return 0;
}

if (import.meta.main) Deno.exit(await main());
