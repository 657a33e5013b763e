import assert from "node:assert/strict";
import { eachBackend, gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { checkGrads } from "../_helpers/check_grads.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  attention,
  avgPool2x2,
  type Backend,
  flipLastAxis,
  grad,
  gradients,
  groupNorm,
  moments,
  mul,
  permute,
  randomHorizontalFlip,
  referenceBackend,
  reshape,
  Rng,
  slice,
  softmax,
  square,
  sum,
  type Tensor,
  tensor,
  tensorWithHostCopy,
  upsampleNearest2x,
  watch,
} from "../../compute/mod.ts";
import { withRecording } from "../../compute/autodiff/mode.ts";
import { sinusoidalEmbedding } from "../../nn/time_embedding.ts";

async function values(shape: number[], seed: number): Promise<Float64Array> {
  return (await Rng.fromSeed(seed).normal(referenceBackend(), shape, "f64").read()) as Float64Array;
}

eachBackend(
  "softmax, moments, pooling and upsampling match hand-computed values",
  async ({ backend, dtype }) => {
    const close = dtype === "f64" ? tol.f64 : tol.f32Elementwise;
    const x = tensor(backend, [0, Math.log(3), 1000, 1000], [2, 2], dtype);
    assertAllClose(
      await softmax(x).read(),
      [0.25, 0.75, 0.5, 0.5],
      close,
      "softmax (incl. large logits)",
    );
    const m = moments(tensor(backend, [1, 2, 3, 4, 10, 10, 10, 10], [2, 4], dtype), [1]);
    assertAllClose(await m.mean.read(), [2.5, 10], close, "mean");
    assertAllClose(await m.variance.read(), [1.25, 0], close, "variance");
    const img = tensor(backend, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [
      1,
      1,
      4,
      4,
    ], dtype);
    assertAllClose(await avgPool2x2(img).read(), [3.5, 5.5, 11.5, 13.5], close, "avgPool2x2");
    const up = upsampleNearest2x(tensor(backend, [1, 2, 3, 4], [1, 1, 2, 2], dtype));
    assert.deepEqual(up.shape, [1, 1, 4, 4]);
    assertAllClose(
      await up.read(),
      [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4],
      tol.exact,
      "upsample",
    );
    assertAllClose(await flipLastAxis(tensor(backend, [1, 2, 3, 4, 5, 6], [2, 3], dtype)).read(), [
      3,
      2,
      1,
      6,
      5,
      4,
    ], tol.exact);
  },
);

eachBackend(
  "group norm normalises each group and applies the affine map",
  async ({ backend, dtype }) => {
    const xv = await values([2, 4, 3, 3], 1);
    const gamma = tensor(backend, [1, 2, 3, 4], [4], dtype),
      beta = tensor(backend, [0, 1, 0, -1], [4], dtype);
    const y = await groupNorm(tensor(backend, xv, [2, 4, 3, 3], dtype), 2, gamma, beta).read();
    // Undo the affine map per channel, then every (example, group) of 2 channels × 9 positions
    // must have mean 0 and variance v/(v + ε).
    for (let n = 0; n < 2; n++) {
      for (let g = 0; g < 2; g++) {
        const vals: number[] = [], raw: number[] = [];
        for (let c = 2 * g; c < 2 * g + 2; c++) {
          for (let i = 0; i < 9; i++) {
            const at = (n * 4 + c) * 9 + i;
            vals.push((y[at] - [0, 1, 0, -1][c]) / (c + 1));
            raw.push(xv[at]);
          }
        }
        const mean = vals.reduce((a, b) => a + b) / 18;
        const rawMean = raw.reduce((a, b) => a + b) / 18;
        const rawVar = raw.reduce((a, b) => a + (b - rawMean) ** 2, 0) / 18;
        const variance = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / 18;
        assert.ok(Math.abs(mean) < 1e-5, `group mean ${mean}`);
        assert.ok(
          Math.abs(variance - rawVar / (rawVar + 1e-5)) < 1e-4,
          `group variance ${variance}`,
        );
      }
    }
  },
);

eachBackend(
  "attention equals softmax(q kᵀ/√d) v computed by hand for one query",
  async ({ backend, dtype }) => {
    const q = tensor(backend, [1, 0], [1, 1, 2], dtype);
    const k = tensor(backend, [1, 0, 0, 1], [1, 2, 2], dtype);
    const v = tensor(backend, [10, 0, 0, 10], [1, 2, 2], dtype);
    const w = Math.exp(1 / Math.SQRT2) / (Math.exp(1 / Math.SQRT2) + 1);
    assertAllClose(
      await attention(q, k, v).read(),
      [10 * w, 10 * (1 - w)],
      dtype === "f64" ? tol.f64 : tol.f32Elementwise,
    );
  },
);

eachBackend(
  "random horizontal flip flips whole examples, about half of them",
  async ({ backend, dtype }) => {
    const n = 400;
    const rows = new Float64Array(n * 3).map((_, i) => i % 3);
    const out = await randomHorizontalFlip(
      tensor(backend, rows, [n, 1, 1, 3], dtype),
      Rng.fromSeed(5),
    ).read();
    let flipped = 0;
    for (let i = 0; i < n; i++) {
      const ex = [...out.slice(3 * i, 3 * i + 3)];
      assert.ok(ex.join() === "0,1,2" || ex.join() === "2,1,0", `example ${i} is ${ex}`);
      if (ex[0] === 2) flipped++;
    }
    assert.ok(Math.abs(flipped - n / 2) < 4 * Math.sqrt(n / 4), `${flipped} of ${n} flipped`);
  },
);

eachBackend(
  "sinusoidal embedding is [sin(1000 t ω), cos(1000 t ω)]",
  async ({ backend, dtype }) => {
    const e = await sinusoidalEmbedding(tensor(backend, [0, 0.001], [2], dtype), 4).read();
    const expected = [0, 0, 1, 1, Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01)];
    assertAllClose(e, expected, dtype === "f64" ? tol.f64 : tol.f32Elementwise);
  },
);

Deno.test("composed ops: dot-product gradient checks to second order (float64)", async () => {
  const be = referenceBackend();
  const gamma = tensor(be, [1, 2, 3, 4], [4], "f64"), beta = tensor(be, [0, 1, 0, -1], [4], "f64");
  await checkGrads((x) => softmax(x), await values([3, 5], 1), [3, 5], "softmax");
  await checkGrads(
    (x) => groupNorm(x, 2, gamma, beta),
    await values([2, 4, 2, 2], 2),
    [2, 4, 2, 2],
    "groupNorm",
  );
  const kv = tensor(be, await values([2, 3, 4], 3), [2, 3, 4], "f64");
  await checkGrads(
    (q) => attention(q, kv, kv),
    await values([2, 3, 4], 4),
    [2, 3, 4],
    "attention (q)",
  );
  await checkGrads(
    (x) => attention(x, x, x),
    await values([2, 3, 4], 5),
    [2, 3, 4],
    "self-attention",
  );
  await checkGrads(
    (x) => square(avgPool2x2(x)),
    await values([1, 2, 4, 4], 6),
    [1, 2, 4, 4],
    "avgPool2x2",
  );
  await checkGrads(
    (x) => square(upsampleNearest2x(x)),
    await values([1, 2, 2, 3], 7),
    [1, 2, 2, 3],
    "upsample",
  );
  await checkGrads((x) => square(flipLastAxis(x)), await values([2, 5], 8), [2, 5], "flip");
});

gpuTest("composed ops: WebGPU values and gradients match the float64 reference", async (gpu) => {
  const shape = [2, 4, 6, 6];
  const xv = await values(shape, 11);
  const run = async (be: Backend, dtype: "f32" | "f64") => {
    const gamma = tensor(be, [1, 2, 3, 4], [4], dtype),
      beta = tensor(be, [0, 1, 0, -1], [4], dtype);
    const f = (x: Tensor) => {
      const h = groupNorm(x, 2, gamma, beta);
      const seq = permute(slice(avgPool2x2(h), [0, 0, 0, 0], [2, 4, 3, 3]), [0, 2, 3, 1]);
      const tokens = reshape(seq, [2, 9, 4]); // [N, positions, channels]
      const s = attention(tokens, mul(tokens, 0.5), tokens);
      return sum(square(upsampleNearest2x(permute(reshape(s, [2, 3, 3, 4]), [0, 3, 1, 2]))));
    };
    const x = tensor(be, xv, shape, dtype);
    return [await f(x).read(), await grad(f)(x).read()];
  };
  const [rv, rg] = await run(referenceBackend(), "f64");
  const [gv, gg] = await run(gpu, "f32");
  assertAllClose(gv, rv, tol.f32Reduction, "value");
  assertAllClose(gg, rg, tol.f32Grad, "gradient");
});

eachBackend(
  "groupNorm's fused first-order input gradient equals the composed one a recorded graph uses",
  async ({ backend, dtype }) => {
    const rng = Rng.fromSeed(7);
    const x = watch(rng.normal(backend, [3, 6, 4, 5], dtype));
    const gamma = watch(rng.normal(backend, [6], dtype)), beta = rng.normal(backend, [6], dtype);
    const seed = rng.normal(backend, [3, 6, 4, 5], dtype);
    const y = withRecording(true, () => groupNorm(x, 3, gamma, beta));
    // createGraph = false takes the fused kernel, true the differentiable composition
    const [fusedX, fusedGamma] = gradients([y], [x, gamma], [seed], false);
    const [composedX, composedGamma] = gradients([y], [x, gamma], [seed], true);
    const t = dtype === "f64" ? tol.f64 : tol.f32Reduction;
    assertAllClose(await fusedX.read(), await composedX.read(), t, "∇x");
    assertAllClose(await fusedGamma.read(), await composedGamma.read(), t, "∇γ");
  },
);

eachBackend(
  "sinusoidal embedding of times known on the host equals the device computation, with no kernel",
  async ({ backend, dtype }) => {
    const ts = [0, 1e-5, 0.01, 0.37, 1];
    const device = await sinusoidalEmbedding(tensor(backend, ts, [5], dtype), 16).read();
    const known = tensorWithHostCopy(backend, ts, [5], dtype);
    const before = backend.stats().dispatches;
    const host = sinusoidalEmbedding(known, 16);
    assert.equal(backend.stats().dispatches, before, "computed on the host");
    // arguments reach 1000 rad: float32 sin is good to ~1e-4 there (ulp(1000) ≈ 6e-5)
    assertAllClose(await host.read(), device, dtype === "f64" ? tol.f64 : tol.f32LargeArgTrig);
  },
);
