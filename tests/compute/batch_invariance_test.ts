// With kernels pinned for evaluation, a convolution's output for one image (and the input
// gradient of it that a divergence needs) is the same bits whether the image is alone or in a
// batch of 16, although the two batches fall on opposite sides of the texture lowering's size
// threshold. The record names the variants chosen.

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import {
  conv2d,
  conv2dInputGrad,
  referenceBackend,
  Rng,
  slice,
  tensor,
} from "../../compute/mod.ts";
import { computeRecord, pinKernelsForEvaluation } from "../../compute/batch_invariance.ts";

const [C, O, H, W] = [2, 8, 8, 8];
const BATCH = 16;

eachBackend(
  "pinned kernels: conv2d and its input gradient per image do not depend on the batch",
  async ({ backend, dtype }) => {
    const rng = Rng.fromSeed(11), ref = referenceBackend();
    const host = async (shape: number[], k: number) =>
      tensor(backend, await rng.derive(k).normal(ref, shape, "f64").read(), shape, dtype);
    const x = await host([BATCH, C, H, W], 0), w = await host([O, C, 3, 3], 1);
    const dy = await host([BATCH, O, H, W], 2), bias = await host([O], 3);
    const p = { stride: 1, padding: 1 };
    const unpin = pinKernelsForEvaluation(backend);
    try {
      const maps = (xs: typeof x, dys: typeof dy) =>
        Promise.all([
          conv2d(xs, w, p, bias).read(),
          conv2dInputGrad(dys, w, { ...p, inputHW: [H, W] }).read(),
        ]);
      const [yAll, dxAll] = await maps(x, dy);
      for (const i of [0, 7, BATCH - 1]) {
        const one = (t: typeof x, c: number) => slice(t, [i, 0, 0, 0], [i + 1, c, H, W]);
        const [y, dx] = await maps(one(x, C), one(dy, O));
        assert.deepEqual(y, yAll.slice(i * O * H * W, (i + 1) * O * H * W), `forward, image ${i}`);
        assert.deepEqual(dx, dxAll.slice(i * C * H * W, (i + 1) * C * H * W), `dx, image ${i}`);
      }
      const record = computeRecord(backend, dtype);
      assert.equal(record.backend, backend.name);
      assert.equal(record.dtype, dtype);
      if (backend.name === "webgpu") {
        assert.equal(record.kernels.conv2d.length, 1, "one forward variant for both batches");
        assert.equal(record.kernels.conv2d_input_grad.length, 1, "one input-gradient variant");
      } else assert.deepEqual(record.kernels, {});
    } finally {
      unpin();
    }
  },
);
