import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  conv2d,
  conv2dInputGrad,
  conv2dWeightGrad,
  referenceBackend,
  Rng,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import type { Backend } from "../../compute/backend.ts";
import type { WebGpuBackend } from "../../compute/webgpu/backend.ts";

interface Case {
  xs: [number, number, number, number];
  ws: [number, number, number, number];
  stride: number;
  pad: number;
  /** scratch limits small enough that every map is split into several chunks */
  split?: { maxDim: number; maxTexels: number };
}

// Kernels 1×1, 3×3, 4×4 and rectangular; strides 1–3; padding 0, 1 and beyond kh − 1 (a
// negative correlation offset in the input gradient, stride phases no tap reaches); channel
// counts 1, 3, 5, 17, 64; odd spatial sizes; batches 1 and 3.
const cases: Case[] = [
  { xs: [1, 1, 5, 7], ws: [3, 1, 1, 1], stride: 1, pad: 0 },
  { xs: [3, 3, 7, 9], ws: [5, 3, 3, 3], stride: 1, pad: 1 },
  { xs: [1, 5, 9, 7], ws: [17, 5, 3, 3], stride: 2, pad: 1 },
  { xs: [3, 17, 11, 9], ws: [5, 17, 3, 3], stride: 2, pad: 0 },
  { xs: [1, 3, 5, 5], ws: [3, 3, 1, 1], stride: 2, pad: 1 },
  { xs: [3, 1, 6, 5], ws: [1, 1, 1, 1], stride: 1, pad: 0 },
  { xs: [1, 3, 5, 6], ws: [4, 3, 3, 3], stride: 1, pad: 2 },
  { xs: [1, 64, 9, 9], ws: [64, 64, 3, 3], stride: 1, pad: 0 },
  { xs: [3, 4, 9, 7], ws: [5, 4, 3, 2], stride: 2, pad: 0 },
  { xs: [1, 3, 4, 4], ws: [2, 3, 4, 4], stride: 3, pad: 2 },
  { xs: [3, 64, 8, 8], ws: [17, 64, 3, 3], stride: 2, pad: 1 },
  // forced splits: rows (50 > 48) forward, channels for the input gradient, images (which the
  // weight gradient accumulates over) for the weight gradient
  {
    xs: [3, 20, 5, 6],
    ws: [50, 20, 1, 1],
    stride: 1,
    pad: 0,
    split: { maxDim: 48, maxTexels: 600 },
  },
  // channels and images, in all three maps
  { xs: [3, 9, 7, 6], ws: [6, 9, 3, 3], stride: 2, pad: 1, split: { maxDim: 40, maxTexels: 60 } },
  // images forward, channels for the input gradient, images for the weight gradient
  {
    xs: [3, 5, 13, 11],
    ws: [17, 5, 3, 3],
    stride: 1,
    pad: 1,
    split: { maxDim: 160, maxTexels: 800 },
  },
];

async function values(shape: number[], seed: number): Promise<Float64Array> {
  return (await Rng.fromSeed(seed).normal(referenceBackend(), shape, "f64").read()) as Float64Array;
}

/**
 * Forward, input gradient, weight gradient and the forward with a bias (added by the first k
 * chunk's store) of one case on `be`, with dispatches of each.
 */
async function threeMaps(be: Backend, c: Case, data: Float64Array[], dtype: "f32" | "f64") {
  const [x, w, dy, b] = data;
  const p = { stride: c.stride, padding: c.pad };
  const xt = tensor(be, x, c.xs, dtype), wt = tensor(be, w, c.ws, dtype);
  const dispatches: number[] = [];
  const counted = (f: () => Tensor) => {
    const before = be.stats().dispatches;
    const t = f();
    dispatches.push(be.stats().dispatches - before);
    return t;
  };
  const y = counted(() => conv2d(xt, wt, p));
  const dyt = tensor(be, dy, y.shape as number[], dtype);
  const dx = counted(() => conv2dInputGrad(dyt, wt, { ...p, inputHW: [c.xs[2], c.xs[3]] }));
  const dw = counted(() => conv2dWeightGrad(xt, dyt, { ...p, kernelHW: [c.ws[2], c.ws[3]] }));
  const bt = tensor(be, b, [c.ws[0]], dtype);
  const yb = counted(() => conv2d(xt, wt, p, bt));
  const out = [await y.read(), await dx.read(), await dw.read(), await yb.read()];
  for (const t of [xt, wt, y, dyt, dx, dw, bt, yb]) t.dispose();
  return { out, dispatches };
}

function outShape(c: Case): number[] {
  const [n, , h, w] = c.xs, [o, , kh, kw] = c.ws;
  const side = (size: number, k: number) => Math.floor((size + 2 * c.pad - k) / c.stride) + 1;
  return [n, o, side(h, kh), side(w, kw)];
}

async function compare(gpu: WebGpuBackend, c: Case, seed: number) {
  const data = [await values(c.xs, seed), await values(c.ws, seed + 1)];
  data.push(await values(outShape(c), seed + 2), await values([c.ws[0]], seed + 3));
  const expected = (await threeMaps(referenceBackend(), c, data, "f64")).out;
  const got = await threeMaps(gpu, c, data, "f32");
  for (const [i, name] of ["forward", "input grad", "weight grad", "forward + bias"].entries()) {
    const what = `${name} ${JSON.stringify(c)}`;
    // the direct kernels are one dispatch; the texture path packs, then multiplies
    if (got.dispatches[i] < 3) throw new Error(`${what}: the direct kernel ran`);
    if (c.split && got.dispatches[i] <= 3) throw new Error(`${what}: not split into chunks`);
    const scale = Array.from(expected[i]).reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    const close = { ...tol.f32ConvPerMaxAbs, atol: tol.f32ConvPerMaxAbs.atol * scale };
    assertAllClose(got.out[i], expected[i], close, what);
  }
}

/** Runs `fn` with the texture variant and the given lowering settings, restoring them after. */
async function withTexturePath(
  gpu: Backend,
  settings: { minMacs?: number; maxDim?: number; maxTexels?: number },
  fn: (gpu: WebGpuBackend) => Promise<void>,
) {
  const be = gpu as WebGpuBackend, conv = be.convTexture;
  const saved = { variant: be.matmulVariant, ...conv };
  const { minMacs, maxDim, maxTexels } = conv;
  be.matmulVariant = "texture";
  Object.assign(conv, { minMacs, maxDim, maxTexels }, settings);
  try {
    await fn(be);
  } finally {
    be.matmulVariant = saved.variant;
    Object.assign(conv, { minMacs, maxDim, maxTexels });
  }
}

gpuTest(
  "conv2d texture path: forward and both gradients match float64 over a table of cases",
  async (gpu) => {
    for (const [i, c] of cases.entries()) {
      await withTexturePath(gpu, { minMacs: 0, ...c.split }, (be) => compare(be, c, 10 * i));
    }
  },
);

gpuTest(
  "conv2d texture path: taken by default above the threshold (3×3, 64→64, 28×28, batch 2)",
  async (gpu) => {
    const c: Case = { xs: [2, 64, 28, 28], ws: [64, 64, 3, 3], stride: 1, pad: 1 };
    await withTexturePath(gpu, {}, (be) => compare(be, c, 99));
  },
);
