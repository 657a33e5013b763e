import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import * as C from "../../compute/mod.ts";
import type { Tensor } from "../../compute/mod.ts";

const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((s, v) => s + v, 0) / xs.length;

eachBackend("nested grad: d³/dx³ sin = −cos, d³/dx³ x³ = 6", async ({ backend, dtype }) => {
  const xs = [-2, -0.75, 0, 0.5, 1.25, 3], x = C.tensor(backend, xs, [6], dtype);
  const tl = dtype === "f64" ? tol.f64 : tol.f32Grad;
  const d = C.grad;
  assertAllClose(await d(C.sin)(x).read(), xs.map(Math.cos), tl, "d sin");
  assertAllClose(await d(d(C.sin))(x).read(), xs.map((v) => -Math.sin(v)), tl, "d² sin");
  assertAllClose(await d(d(d(C.sin)))(x).read(), xs.map((v) => -Math.cos(v)), tl, "d³ sin");
  assertAllClose(await d(d(d(d(C.sin))))(x).read(), xs.map(Math.sin), tl, "d⁴ sin");
  const cube = (v: Tensor) => C.mul(C.mul(v, v), v);
  assertAllClose(await d(d(d(cube)))(x).read(), [6, 6, 6, 6, 6, 6], tl, "d³ x³");
  assertAllClose(await d(d(d(d(cube))))(x).read(), [0, 0, 0, 0, 0, 0], tl, "d⁴ x³");
});

eachBackend("Hutchinson with Rademacher probes is exact for a diagonal map", async (c) => {
  const { backend, dtype } = c;
  // dyadic entries: every partial sum is exact in float32, so Σa is reproduced bit for bit
  const a = [0.5, -1.25, 2, 3.75, -0.125], trace = 4.875, batch = 64;
  const x = C.Rng.fromSeed(1).normal(backend, [batch, 5], dtype);
  const f = (v: Tensor) => C.mul(v, C.tensor(backend, a, [1, 5], dtype));
  const probe = C.Rng.fromSeed(2).rademacher(backend, [batch, 5], dtype);
  const signs = await probe.read();
  assert.ok(signs.includes(1) && signs.includes(-1), "the probes mix both signs");
  const hutch = C.divergence(f, x, { method: "hutchinson", probe });
  assert.deepEqual(hutch.div.shape, [batch]);
  assertAllClose(await hutch.div.read(), new Array(batch).fill(trace), tol.exact, "every probe");
  const exact = C.divergence(f, x, { method: "exact" });
  assertAllClose(await exact.div.read(), new Array(batch).fill(trace), tol.exact, "exact");
  assertAllClose(await hutch.value.read(), await f(x).read(), tol.exact, "value");
});

/** A small tanh MLP, 2 → 8 → 2, with fixed weights. */
const W1 = [0.9, -0.4, 1.3, 0.2, -1.1, 0.7, 0.5, -0.8, -0.6, 1.2, 0.3, -0.9, 0.8, 0.4, -1.4, 1.0];
const B1 = [0.1, -0.2, 0.3, 0, -0.1, 0.2, -0.3, 0.05];
const W2 = [1.1, -0.3, 0.4, 0.9, -0.7, 0.6, 0.2, -1.2, 0.5, 0.8, -0.9, 0.1, 1.3, -0.4, -0.2, 0.7];
const X0 = [0.3, -0.7];

/** tr J of f(x) = tanh(x W1 + b1) W2 at X0: Σ_i Σ_k W1[i,k] (1 − h_k²) W2[k,i]. */
function mlpTrace(): { trace: number; offDiagonal: number } {
  const h = [...B1.keys()].map((k) => Math.tanh(X0[0] * W1[k] + X0[1] * W1[8 + k] + B1[k]));
  const jac = (i: number, j: number) =>
    h.reduce((s, hk, k) => s + W1[i * 8 + k] * (1 - hk * hk) * W2[k * 2 + j], 0);
  return { trace: jac(0, 0) + jac(1, 1), offDiagonal: jac(0, 1) + jac(1, 0) };
}

eachBackend("Hutchinson over 400 probes averages to the exact divergence of an MLP", async (c) => {
  const { backend, dtype } = c, n = 400;
  const t = (v: number[], shape: number[]) => C.tensor(backend, v, shape, dtype);
  const w1 = t(W1, [2, 8]), b1 = t(B1, [8]), w2 = t(W2, [8, 2]);
  const f = (v: Tensor) => C.matmul(C.tanh(C.add(C.matmul(v, w1), b1)), w2);
  const { trace, offDiagonal } = mlpTrace();
  const exact = await C.divergence(f, t(X0, [1, 2]), { method: "exact" }).div.read();
  assertAllClose(exact, [trace], dtype === "f64" ? tol.f64 : tol.f32Grad, "exact vs closed form");
  const xs = C.expand(t(X0, [1, 2]), [n, 2]);
  const probe = C.Rng.fromSeed(7).rademacher(backend, [n, 2], dtype);
  const est = await C.divergence(f, xs, { method: "hutchinson", probe }).div.read();
  const m = mean(est), se = Math.sqrt(mean(Array.from(est, (v) => (v - m) ** 2)) / (n - 1));
  // with two coordinates each estimate is tr J ± (J₁₂ + J₂₁): the spread is real, not rounding
  assert.ok(Math.abs(offDiagonal) > 0.1 && se > Math.abs(offDiagonal) / 40, `se ${se}`);
  assert.ok(Math.abs(m - exact[0]) < 4 * se, `mean ${m} vs exact ${exact[0]} (se ${se})`);
  const spread = Array.from(est, (v) => Math.abs(v - trace));
  const tl = dtype === "f64" ? tol.f64 : tol.f32Grad;
  assertAllClose(spread, new Array(n).fill(Math.abs(offDiagonal)), tl, "|estimate − tr J|");
});

Deno.test("∂/∂W of the divergence of x ↦ tanh(xW) matches central differences", async () => {
  const ref = C.referenceBackend(), eps = 1e-5;
  const x = C.tensor(
    ref,
    [0.3, -0.7, 0.5, 1.1, 0.2, -0.4, -0.9, 0.6, 0.8, 0.1, -0.3, 0.7],
    [4, 3],
    "f64",
  );
  const w0 = [0.8, -0.5, 0.3, 0.4, 1.1, -0.6, -0.2, 0.7, 0.9];
  const probe = C.Rng.fromSeed(3).rademacher(ref, [4, 3], "f64");
  const methods: C.DivergenceMethod[] = [{ method: "exact" }, { method: "hutchinson", probe }];
  for (const how of methods) {
    const loss = (w: Tensor) => C.sum(C.divergence((v) => C.tanh(C.matmul(v, w)), x, how).div);
    const at = (w: number[]) => loss(C.tensor(ref, w, [3, 3], "f64")).item();
    const g = await C.grad(loss)(C.tensor(ref, w0, [3, 3], "f64")).read();
    for (let i = 0; i < 9; i++) {
      const plus = w0.map((v, j) => (j === i ? v + eps : v));
      const minus = w0.map((v, j) => (j === i ? v - eps : v));
      const fd = ((await at(plus)) - (await at(minus))) / (2 * eps);
      const { rtol, atol } = tol.finiteDiff;
      assert.ok(
        Math.abs(g[i] - fd) <= atol + rtol * Math.abs(fd),
        `${how.method} W[${i}]: ${g[i]} vs ${fd}`,
      );
    }
  }
  // and the exact divergence itself: Σ_b Σ_i W_ii (1 − tanh²((xW)_bi))
  const w = C.tensor(ref, w0, [3, 3], "f64"), h = await C.tanh(C.matmul(x, w)).read();
  const closed = Array.from(h).reduce((s, v, f) => s + w0[(f % 3) * 4] * (1 - v * v), 0);
  const div = C.divergence((v) => C.tanh(C.matmul(v, w)), x, { method: "exact" }).div;
  assertAllClose([await C.sum(div).item()], [closed], tol.f64, "exact divergence");
});
