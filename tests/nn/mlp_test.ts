import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  type Backend,
  grad,
  mapTree,
  mul,
  referenceBackend,
  Rng,
  sum,
  type Tensor,
  tensor,
  treeLeaves,
  valueAndGrad,
} from "../../compute/mod.ts";
import { initMlp, type MlpConfig, mlpForward, type MlpParams } from "../../nn/mlp.ts";

const cfg: MlpConfig = { dim: 3, hidden: 16, layers: 2, timeFeatures: 8 };

Deno.test("MLP: output shape and parameter count by hand", async () => {
  const be = referenceBackend();
  const p = initMlp(be, Rng.fromSeed(1), cfg, "f64");
  // (3 + 8)·16 + 16, 16·16 + 16, 16·3 + 3
  const expected = (11 * 16 + 16) + (16 * 16 + 16) + (16 * 3 + 3);
  assert.equal(treeLeaves(p).reduce((n, t) => n + t.size, 0), expected);
  const y = mlpForward(
    p,
    cfg,
    tensor(be, new Float64Array(15), [5, 3], "f64"),
    tensor(be, [0, 0.1, 0.5, 0.9, 1], [5], "f64"),
  );
  assert.deepEqual(y.shape, [5, 3]);
  assert.ok((await y.read()).every(Number.isFinite));
});

gpuTest(
  "MLP: values, parameter gradients and a second-order gradient match the reference",
  async (gpu) => {
    const ref = referenceBackend();
    const p64 = initMlp(ref, Rng.fromSeed(2), cfg, "f64");
    const xv = await Rng.fromSeed(3).normal(ref, [7, 3], "f64").read();
    const tv = [0.01, 0.1, 0.2, 0.4, 0.6, 0.8, 1];
    const values = await Promise.all(treeLeaves(p64).map((t) => t.read()));
    const run = async (be: Backend, dtype: "f32" | "f64") => {
      let i = 0;
      const p = mapTree(p64, (t) => tensor(be, values[i++], t.shape, dtype)) as MlpParams;
      const x = tensor(be, xv, [7, 3], dtype), t = tensor(be, tv, [7], dtype);
      const loss = (q: MlpParams) => sum(mul(mlpForward(q, cfg, x, t), mlpForward(q, cfg, x, t)));
      const { value, grad: g } = valueAndGrad(loss)(p);
      // d/dx of Σ ⟨∂f/∂x, x⟩: differentiates the backward pass of the network once more
      const second = grad((y: Tensor) =>
        sum(mul(grad((z: Tensor) => sum(mlpForward(p, cfg, z, t)))(y), y))
      )(x);
      return [
        await value.read(),
        ...await Promise.all(treeLeaves(g).map((l) => l.read())),
        await second.read(),
      ];
    };
    const r = await run(ref, "f64"), w = await run(gpu, "f32");
    assertAllClose(w[0], r[0], tol.f32Reduction, "value");
    for (let i = 1; i < r.length - 1; i++) {
      assertAllClose(
        w[i],
        r[i],
        tol.f32Grad,
        `parameter gradient ${i}`,
      );
    }
    assertAllClose(w.at(-1)!, r.at(-1)!, tol.f32Grad2, "second order");
  },
);
