import { eachBackend, gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { checkGrads } from "../_helpers/check_grads.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  conv2d,
  conv2dBias,
  conv2dInputGrad,
  conv2dWeightGrad,
  grad,
  mul,
  referenceBackend,
  Rng,
  square,
  sum,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";

/** An oracle independent of both backends: pad explicitly, then slide the window. */
function oracle(
  x: Float64Array,
  xs: number[],
  w: Float64Array,
  ws: number[],
  stride: number,
  pad: number,
) {
  const [n, c, h, wd] = xs, [o, , kh, kw] = ws;
  const hp = h + 2 * pad, wp = wd + 2 * pad;
  const padded = new Float64Array(n * c * hp * wp);
  for (let i = 0; i < n * c; i++) {
    for (let y = 0; y < h; y++) {
      for (let z = 0; z < wd; z++) {
        padded[(i * hp + y + pad) * wp + z + pad] = x[(i * h + y) * wd + z];
      }
    }
  }
  const ho = Math.floor((hp - kh) / stride) + 1, wo = Math.floor((wp - kw) / stride) + 1;
  const out = new Float64Array(n * o * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < o; oc++) {
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          let s = 0;
          for (let ic = 0; ic < c; ic++) {
            for (let a = 0; a < kh; a++) {
              for (let e = 0; e < kw; e++) {
                s += padded[((b * c + ic) * hp + i * stride + a) * wp + j * stride + e] *
                  w[((oc * c + ic) * kh + a) * kw + e];
              }
            }
          }
          out[((b * o + oc) * ho + i) * wo + j] = s;
        }
      }
    }
  }
  return { out, shape: [n, o, ho, wo] };
}

const cases = [
  { xs: [2, 3, 7, 6], ws: [4, 3, 3, 3], stride: 1, pad: 1 },
  { xs: [1, 2, 8, 8], ws: [3, 2, 3, 3], stride: 2, pad: 1 },
  { xs: [2, 1, 5, 5], ws: [2, 1, 1, 1], stride: 1, pad: 0 },
  { xs: [1, 4, 9, 7], ws: [5, 4, 3, 2], stride: 2, pad: 0 },
  { xs: [1, 3, 4, 4], ws: [2, 3, 4, 4], stride: 3, pad: 2 },
];

async function values(shape: number[], seed: number): Promise<Float64Array> {
  return (await Rng.fromSeed(seed).normal(referenceBackend(), shape, "f64").read()) as Float64Array;
}

eachBackend(
  "conv2d matches a direct-loop oracle over strides, paddings and channel counts",
  async (k) => {
    const close = k.dtype === "f64" ? tol.f64 : tol.f32Reduction;
    for (const [i, c] of cases.entries()) {
      const x = await values(c.xs, i), w = await values(c.ws, 100 + i);
      const expected = oracle(x, c.xs, w, c.ws, c.stride, c.pad);
      const y = conv2d(tensor(k.backend, x, c.xs, k.dtype), tensor(k.backend, w, c.ws, k.dtype), {
        stride: c.stride,
        padding: c.pad,
      });
      assertAllClose(y.shape, expected.shape, tol.exact, "shape");
      assertAllClose(await y.read(), expected.out, close, `conv2d ${JSON.stringify(c)}`);
    }
  },
);

Deno.test("conv2d and its two gradient maps: dot-product test to second order (float64)", async () => {
  for (const [i, c] of cases.slice(0, 4).entries()) {
    const be = referenceBackend();
    const x = await values(c.xs, i), w = await values(c.ws, 100 + i);
    const p = { stride: c.stride, padding: c.pad };
    const wt = tensor(be, w, c.ws, "f64"), xt = tensor(be, x, c.xs, "f64");
    // Squaring makes the second-order check see every cross term.
    await checkGrads((v) => square(conv2d(v, wt, p)), x, c.xs, `conv2d wrt x ${i}`);
    await checkGrads((v) => square(conv2d(xt, v, p)), w, c.ws, `conv2d wrt w ${i}`);
    // The VJP rules of the two gradient maps, in each of their inputs.
    const ys = conv2d(xt, wt, p).shape as number[];
    const dy = await values(ys, 200 + i), dyt = tensor(be, dy, ys, "f64");
    const ip = { ...p, inputHW: [c.xs[2], c.xs[3]] as [number, number] };
    const kp = { ...p, kernelHW: [c.ws[2], c.ws[3]] as [number, number] };
    await checkGrads((v) => square(conv2dInputGrad(v, wt, ip)), dy, ys, `inputGrad wrt dy ${i}`);
    await checkGrads((v) => square(conv2dInputGrad(dyt, v, ip)), w, c.ws, `inputGrad wrt w ${i}`);
    await checkGrads((v) => square(conv2dWeightGrad(v, dyt, kp)), x, c.xs, `weightGrad wrt x ${i}`);
    await checkGrads((v) => square(conv2dWeightGrad(xt, v, kp)), dy, ys, `weightGrad wrt dy ${i}`);
    // the fused bias, alone and beside the other two inputs
    const b = await values([c.ws[0]], 300 + i), bt = tensor(be, b, [c.ws[0]], "f64");
    const conv = (v: Tensor, u: Tensor, bb: Tensor) => conv2dBias(v, u, bb, c.stride, c.pad);
    await checkGrads((v) => square(conv(xt, wt, v)), b, [c.ws[0]], `conv2dBias wrt b ${i}`);
    await checkGrads((v) => square(conv(v, wt, bt)), x, c.xs, `conv2dBias wrt x ${i}`);
  }
});

gpuTest(
  "conv2d gradients and gradients of gradients: WebGPU matches the reference",
  async (gpu) => {
    const c = cases[1];
    const x = await values(c.xs, 7), w = await values(c.ws, 8), bias = await values([c.ws[0]], 9);
    const run = async (be: typeof gpu, dtype: "f32" | "f64") => {
      const xt = tensor(be, x, c.xs, dtype), bt = tensor(be, bias, [c.ws[0]], dtype);
      const loss = (v: Tensor) => sum(square(conv2dBias(xt, v, bt, c.stride, c.pad)));
      const wt = tensor(be, w, c.ws, dtype);
      const g1 = grad(loss)(wt);
      const g2 = grad((v: Tensor) => sum(mul(grad(loss)(v), v)))(wt);
      return [await g1.read(), await g2.read()];
    };
    const [r1, r2] = await run(referenceBackend(), "f64");
    const [w1, w2] = await run(gpu, "f32");
    assertAllClose(w1, r1, tol.f32Grad, "first order");
    assertAllClose(w2, r2, tol.f32Grad2, "second order");
  },
);
