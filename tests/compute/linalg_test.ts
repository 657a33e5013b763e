import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { checkGrads } from "../_helpers/check_grads.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  add,
  cholesky,
  choleskySolve,
  logDetSpd,
  matmul,
  mul,
  referenceBackend,
  Rng,
  type Tensor,
  tensor,
  transpose,
  triangularSolve,
} from "../../compute/mod.ts";

const tolFor = (dtype: string) => (dtype === "f64" ? tol.f64 : tol.f32Reduction);

eachBackend("cholesky, solves and log-det match closed forms", async ({ backend, dtype }) => {
  // A = [[4, 2], [2, 3]]: L = [[2, 0], [1, √2]], det A = 8
  const a = tensor(backend, [4, 2, 2, 3], [1, 2, 2], dtype);
  const l = cholesky(a);
  assertAllClose(await l.read(), [2, 0, 1, Math.SQRT2], tolFor(dtype), "L");
  assertAllClose(await logDetSpd(a).read(), [Math.log(8)], tolFor(dtype), "log det");
  // L x = [2, 1 + √2] → x = [1, 1];  Lᵀ y = [3, √2] → y = [1, 1]
  assertAllClose(
    await triangularSolve(l, tensor(backend, [2, 1 + Math.SQRT2], [1, 2, 1], dtype)).read(),
    [1, 1],
    tolFor(dtype),
    "forward",
  );
  assertAllClose(
    await triangularSolve(l, tensor(backend, [3, Math.SQRT2], [1, 2, 1], dtype), true).read(),
    [1, 1],
    tolFor(dtype),
    "backward",
  );
  // A⁻¹ [6, 5] = [1, 1]
  assertAllClose(
    await choleskySolve(l, tensor(backend, [6, 5], [1, 2, 1], dtype)).read(),
    [1, 1],
    tolFor(dtype),
  );
});

/** A batch of well-conditioned SPD matrices M Mᵀ + r I (float64 values). */
async function spdValues(batch: number, r: number, seed: number): Promise<Float64Array> {
  const be = referenceBackend();
  const m = Rng.fromSeed(seed).normal(be, [batch, r, r], "f64");
  const eye = new Float64Array(r * r).map((_, i) => (i % (r + 1) === 0 ? r : 0));
  return (await add(matmul(m, m, false, true), tensor(be, eye, [r, r], "f64"))
    .read()) as Float64Array;
}

eachBackend("cholesky reconstructs A = L Lᵀ for r = 1, 3, 17, 32", async ({ backend, dtype }) => {
  for (const r of [1, 3, 17, 32]) {
    const values = await spdValues(3, r, r);
    const a = tensor(backend, values, [3, r, r], dtype);
    const l = cholesky(a);
    const rebuilt = await matmul(l, l, false, true).read();
    const rel = dtype === "f64"
      ? tol.f64
      : { ...tol.f32Reduction, rtol: 1e-4, why: "f32 Cholesky of r ≤ 32" };
    assertAllClose(rebuilt, values, { ...rel, atol: rel.atol * r }, `L Lᵀ, r = ${r}`);
    const upper = (await l.read()).filter((_, i) => i % r > Math.floor(i / r) % r);
    assert.ok(upper.every((v) => v === 0), "L has zeros above the diagonal");
  }
});

const sym = (a: Tensor) => mul(add(a, transpose(a)), 0.5);

Deno.test("linear algebra gradients: dot-product test to second order (float64)", async () => {
  const r = 4;
  const a = await spdValues(2, r, 7);
  await checkGrads((x) => cholesky(sym(x)), a, [2, r, r], "cholesky");
  await checkGrads((x) => logDetSpd(sym(x)), a, [2, r, r], "log det");
  const be = referenceBackend();
  const l = cholesky(tensor(be, a, [2, r, r], "f64"));
  const lv = await l.read();
  const b = Rng.fromSeed(8).normal(be, [2, r, 3], "f64");
  for (const t of [false, true]) {
    await checkGrads(
      (x) => triangularSolve(x, b, t),
      lv,
      [2, r, r],
      `solve wrt L (transpose ${t})`,
    );
    await checkGrads(
      (x) => triangularSolve(l, x, t),
      await b.read(),
      [2, r, 3],
      `solve wrt B (transpose ${t})`,
    );
  }
});
