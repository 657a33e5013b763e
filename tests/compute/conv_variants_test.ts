// Every conv2d variant the backend or its autotuner may pick (compute/webgpu/conv_schedule.ts) —
// direct kernels, shared-memory implicit GEMMs — computes the three maps like the float64
// reference; the tuner's choice for a geometry changes nothing beyond the same tolerance.

import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  conv2d,
  conv2dInputGrad,
  conv2dWeightGrad,
  referenceBackend,
  Rng,
  tensor,
} from "../../compute/mod.ts";
import type { Backend } from "../../compute/backend.ts";
import { CONV_VARIANTS, type WebGpuBackend } from "../../compute/webgpu/backend.ts";
import { Autotuner } from "../../compute/webgpu/autotune.ts";

type Case = { xs: number[]; ws: number[]; stride: number; pad: number };
// strides 1–3, padding 0–2, 1×1 to 4×4 kernels; the last crosses every 64×64×16 tile edge
const cases: Case[] = [
  { xs: [2, 3, 7, 9], ws: [5, 3, 3, 3], stride: 1, pad: 1 },
  { xs: [1, 5, 9, 7], ws: [17, 5, 3, 3], stride: 2, pad: 1 },
  { xs: [3, 4, 9, 7], ws: [5, 4, 3, 2], stride: 2, pad: 0 },
  { xs: [1, 3, 4, 4], ws: [2, 3, 4, 4], stride: 3, pad: 2 },
  { xs: [3, 5, 6, 5], ws: [7, 5, 1, 1], stride: 1, pad: 0 },
  { xs: [3, 20, 10, 10], ws: [70, 20, 3, 3], stride: 1, pad: 1 },
];

async function maps(be: Backend, c: Case, dtype: "f32" | "f64") {
  const [n, , h, w] = c.xs, [o, , kh, kw] = c.ws;
  const rng = Rng.fromSeed(c.xs[1] * 31 + o);
  const ref = referenceBackend();
  const ho = Math.floor((h + 2 * c.pad - kh) / c.stride) + 1;
  const wo = Math.floor((w + 2 * c.pad - kw) / c.stride) + 1;
  const host = async (shape: number[], k: number) =>
    tensor(be, await rng.derive(k).normal(ref, shape, "f64").read(), shape, dtype);
  const x = await host(c.xs, 0), wt = await host(c.ws, 1), dy = await host([n, o, ho, wo], 2);
  const bias = await host([o], 3);
  const p = { stride: c.stride, padding: c.pad };
  return await Promise.all([
    conv2d(x, wt, p).read(),
    conv2d(x, wt, p, bias).read(),
    conv2dInputGrad(dy, wt, { ...p, inputHW: [h, w] }).read(),
    conv2dWeightGrad(x, dy, { ...p, kernelHW: [kh, kw] }).read(),
  ]);
}

function assertMapsClose(got: ArrayLike<number>[], want: ArrayLike<number>[], what: string) {
  ["forward", "forward + bias", "input gradient", "weight gradient"].forEach((map, i) => {
    const scale = Array.from(want[i]).reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    const close = { ...tol.f32ConvPerMaxAbs, atol: tol.f32ConvPerMaxAbs.atol * scale };
    assertAllClose(got[i], want[i], close, `${what} ${map}`);
  });
}

for (const variant of ["direct", "tiled"] as const) {
  gpuTest(
    `conv2d ${variant} kernels: the three maps match float64 over strides and paddings`,
    async (gpu) => {
      const be = gpu as WebGpuBackend, saved = be.convVariant;
      be.convVariant = variant;
      try {
        for (const c of cases) {
          assertMapsClose(
            await maps(be, c, "f32"),
            await maps(referenceBackend(), c, "f64"),
            `${variant} ${JSON.stringify(c)}`,
          );
        }
      } finally {
        be.convVariant = saved;
      }
    },
  );
}

gpuTest(
  "conv2d autotune: a new geometry is tuned at the next readback, results unchanged",
  async (gpu) => {
    const be = gpu as WebGpuBackend, saved = be.autotune;
    const dir = await Deno.makeTempDir();
    const tuner = new Autotuner("adapter C", `${dir}/autotune.json`);
    be.autotune = tuner;
    try {
      const c = cases[5];
      const got = await maps(be, c, "f32"); // queues then runs the three maps' trials
      assert.equal(tuner.pending, 0);
      for (const mode of [0, 1, 2]) {
        const key = `conv${mode}:3x20x10x10:70x3x3:s1p1`;
        assert.ok((CONV_VARIANTS as readonly string[]).includes(tuner.choice(key) ?? ""), key);
      }
      assertMapsClose(await maps(be, c, "f32"), got, "tuned vs first run");
    } finally {
      be.autotune = saved;
      await Deno.remove(dir, { recursive: true });
    }
  },
);
