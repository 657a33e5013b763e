/**
 * The Woodbury quasi-NLL of Likelihood Matching against the dense-matrix NLL (D = 50, r = 4,
 * float64), and its gradients on every backend against the float64 reference.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { checkGrads } from "../_helpers/check_grads.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  add,
  cholesky,
  choleskySolve,
  exp,
  logDetSpd,
  matmul,
  mul,
  referenceBackend,
  reshape,
  Rng,
  sum,
  type Tensor,
  tensor,
  valueAndGrad,
} from "../../compute/mod.ts";
import { quasiNll } from "../../sde/lm/quasi_nll.ts";

const B = 3, D = 50, R = 4;
const rng = Rng.fromSeed(7);
const host = {
  r: rng.derive("r").uniformHost(B * D).map((u) => 2 * u - 1),
  logd: rng.derive("d").uniformHost(B * D).map((u) => 3 * u - 2),
  u: rng.derive("u").uniformHost(B * D * R).map((u) => u - 0.5),
};
const a2 = [0.9, 0.99, 0.5], b2 = [0.1, 0.02, 0.7];

/** ½[D ln(2πb²/a²) + ln det M + (a²/b²) rᵀM⁻¹r] with M formed densely. */
async function denseNll(r: Tensor, d: Tensor, u: Tensor | null): Promise<number[]> {
  const be = r.backend, eye = new Float64Array(B * D * D);
  const dh = await d.read();
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < D; i++) eye[b * D * D + i * D + i] = dh[b * D + i];
  }
  let m = tensor(be, eye, [B, D, D], "f64");
  if (u) m = add(m, matmul(u, u, false, true));
  const logDet = await logDetSpd(m).read();
  const x = choleskySolve(cholesky(m), reshape(r, [B, D, 1]));
  const quad = await sum(mul(reshape(r, [B, D, 1]), x), [1, 2]).read();
  return Array.from(
    { length: B },
    (_, i) =>
      0.5 * (D * Math.log((2 * Math.PI * b2[i]) / a2[i]) + logDet[i] + (a2[i] / b2[i]) * quad[i]),
  );
}

Deno.test("LM quasi-NLL: Woodbury and the determinant lemma equal the dense NLL (D = 50, r = 4)", async () => {
  const be = referenceBackend();
  const r = tensor(be, host.r, [B, D], "f64");
  const d = exp(tensor(be, host.logd, [B, D], "f64"));
  for (const u of [tensor(be, host.u, [B, D, R], "f64"), null]) {
    const got = await quasiNll(r, { d, u }, a2, b2).nll.read();
    const want = await denseNll(r, d, u);
    // relative 1e-8: float64 Woodbury against a 50×50 Cholesky
    for (let i = 0; i < B; i++) {
      assert.ok(
        Math.abs(got[i] - want[i]) <= 1e-8 * Math.abs(want[i]),
        `rank ${u ? R : 0}, example ${i}: ${got[i]} vs dense ${want[i]}`,
      );
    }
  }
});

Deno.test("LM quasi-NLL: first- and second-order gradients by finite differences (float64)", async () => {
  const be = referenceBackend();
  const d = exp(tensor(be, host.logd.slice(0, D), [1, D], "f64"));
  const u = tensor(be, host.u.slice(0, D * R), [1, D, R], "f64");
  // as a function of the residual, and of the factor U
  await checkGrads(
    (r) => quasiNll(r, { d, u }, [a2[0]], [b2[0]]).nll,
    host.r.slice(0, D),
    [1, D],
    "∂/∂r",
  );
  const r = tensor(be, host.r.slice(0, D), [1, D], "f64");
  await checkGrads((v) => quasiNll(r, { d, u: v }, [a2[0]], [b2[0]]).nll, host.u.slice(0, D * R), [
    1,
    D,
    R,
  ], "∂/∂U");
});

eachBackend("LM quasi-NLL: values and gradients agree with the float64 reference", async (k) => {
  const grads = async (backend: typeof k.backend, dtype: typeof k.dtype) => {
    const p = {
      r: tensor(backend, host.r, [B, D], dtype),
      logd: tensor(backend, host.logd, [B, D], dtype),
      u: tensor(backend, host.u, [B, D, R], dtype),
    };
    const f = (q: typeof p) => sum(quasiNll(q.r, { d: exp(q.logd), u: q.u }, a2, b2).nll);
    const { value, grad } = valueAndGrad(f)(p);
    return {
      value: await value.read(),
      r: await grad.r.read(),
      logd: await grad.logd.read(),
      u: await grad.u.read(),
    };
  };
  const want = await grads(referenceBackend(), "f64");
  const got = await grads(k.backend, k.dtype);
  const t = k.dtype === "f64" ? tol.f64 : tol.f32Grad;
  assertAllClose(got.value, want.value, k.dtype === "f64" ? tol.f64 : tol.f32Reduction, "value");
  for (const key of ["r", "logd", "u"] as const) {
    assertAllClose(got[key], want[key], t, `∂/∂${key}`);
  }
});
