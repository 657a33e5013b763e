/**
 * solveOde on every backend against exact solutions (STYLE 9, torchdiffeq's `y_exact`
 * problems): per-example decay rates, a two-component rotation, time-dependent growth with a
 * rank-1 side component, integration backwards in time, fixed steps against a plain-loop RK on
 * the host, and flat memory.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { divergence, mul, neg, reshape, type Tensor, tensor } from "../../compute/mod.ts";
import type { DType } from "../../compute/backend.ts";
import { solveOde } from "../../sde/ode/solve.ts";
import { DORMAND_PRINCE, HEUN, TABLEAUS } from "../../sde/ode/tableaus.ts";

// float32 cannot resolve a local tolerance much below 1e-6, so it is solved at 1e-5.
const solverTol = (dtype: DType) => (dtype === "f64" ? 1e-6 : 1e-5);
const exactTol = (dtype: DType) => (dtype === "f64" ? tol.odeAdaptiveF64 : tol.odeAdaptiveF32);
const dp5 = (dtype: DType) => ({
  tableau: DORMAND_PRINCE,
  rtol: solverTol(dtype),
  atol: solverTol(dtype),
});

const RATES = [0.5, 1, 2, 4];
const Y0 = [1, -2, 0.5, 3, 1, 1, -1, 0.25];

eachBackend(
  "DP5: y' = −k·y with a rate per example gives y0·e^(−k)",
  async ({ backend, dtype }) => {
    const k = tensor(backend, RATES, [4, 1], dtype);
    const y0 = tensor(backend, Y0, [4, 2], dtype);
    const f = (t: Tensor, [y]: Tensor[]) => {
      assert.deepEqual(t.shape, [4], "f receives one time per example");
      return [neg(mul(k, y))];
    };
    const sol = await solveOde(f, [y0], 0, 1, dp5(dtype));
    const expected = Y0.map((v, i) => v * Math.exp(-RATES[i >> 1]));
    assertAllClose(await sol.y[0].read(), expected, exactTol(dtype), "y(1)");
    // FSAL: six new stages per attempt, plus f(t0, y0) and the starting-step probe.
    assert.equal(sol.nfe, 2 + 6 * sol.steps);
    assert.ok(sol.steps > 3, `a real adaptive solve takes several steps, took ${sol.steps}`);
    assertAllClose(await y0.read(), Y0, tol.exact, "y0 is left intact");
    for (const t of [k, y0, ...sol.y]) t.dispose();
  },
);

eachBackend("DP5: the rotation [y1, y2]' = [y2, −y1] over two [B] components", async (c) => {
  const a = [1, 0, -0.5], b = [0, 1, 2], T = 3;
  const y0 = [tensor(c.backend, a, [3], c.dtype), tensor(c.backend, b, [3], c.dtype)];
  const sol = await solveOde((_t, [y1, y2]) => [y2, neg(y1)], y0, 0, T, dp5(c.dtype));
  const [cs, sn] = [Math.cos(T), Math.sin(T)];
  assertAllClose(await sol.y[0].read(), a.map((ai, i) => ai * cs + b[i] * sn), exactTol(c.dtype));
  assertAllClose(await sol.y[1].read(), a.map((ai, i) => -ai * sn + b[i] * cs), exactTol(c.dtype));
  for (const t of [...y0, ...sol.y]) t.dispose();
});

eachBackend("DP5: y' = t·y and ℓ' = t, forwards and backwards in time", async (c) => {
  const ys = [1, 2, -1, 0.5, 0.25, -3], ells = [0, 1, -2];
  const y0 = tensor(c.backend, ys, [3, 2], c.dtype);
  const l0 = tensor(c.backend, ells, [3], c.dtype);
  // t must be broadcast per example: [B] → [B, 1].
  const f = (t: Tensor, [y]: Tensor[]) => [mul(y, reshape(t, [3, 1])), t];
  for (const [t0, t1] of [[0.2, 1.5], [1.5, 0.2]]) {
    const sol = await solveOde(f, [y0, l0], t0, t1, dp5(c.dtype));
    const g = (t1 * t1 - t0 * t0) / 2;
    assertAllClose(await sol.y[0].read(), ys.map((v) => v * Math.exp(g)), exactTol(c.dtype));
    assertAllClose(await sol.y[1].read(), ells.map((v) => v + g), exactTol(c.dtype));
    sol.y.forEach((t) => t.dispose());
  }
  y0.dispose();
  l0.dispose();
});

// Backwards the decay is a growth by up to e⁴, which amplifies the local errors: DP5 still keeps
// the global error near the tolerance; the third-order BS3 does not (~100× tol), so only DP5.
eachBackend("DP5 backwards: y' = −k·y from t = 1 to 0 undoes the decay", async (c) => {
  const k = tensor(c.backend, RATES, [4, 1], c.dtype);
  const y1 = tensor(c.backend, Y0.map((v, i) => v * Math.exp(-RATES[i >> 1])), [4, 2], c.dtype);
  const sol = await solveOde((_t, [y]) => [neg(mul(k, y))], [y1], 1, 0, dp5(c.dtype));
  assertAllClose(await sol.y[0].read(), Y0, exactTol(c.dtype), "y(0)");
  for (const t of [k, y1, sol.y[0]]) t.dispose();
});

// y1' = t·y2, y2' = −y1 (time-dependent, coupled), stepped by a plain float64 loop on the host.
function hostRk(tab: (typeof TABLEAUS)[number], y: number[], t0: number, t1: number, n: number) {
  const h = (t1 - t0) / n;
  const f = (t: number, v: number[]) => [t * v[1], -v[0]];
  for (let s = 0; s < n; s++) {
    const t = t0 + s * h, ks: number[][] = [];
    for (let i = 0; i < tab.c.length; i++) {
      const yi = y.map((v, d) => v + h * tab.a[i].reduce((acc, aij, j) => acc + aij * ks[j][d], 0));
      ks.push(f(t + tab.c[i] * h, yi));
    }
    y = y.map((v, d) => v + h * tab.b.reduce((acc, bi, i) => acc + bi * ks[i][d], 0));
  }
  return y;
}

eachBackend("fixed steps of every tableau match a plain host RK loop", async (c) => {
  const init = [[1, 0], [0.5, -1]];
  const y0 = [0, 1].map((d) => tensor(c.backend, init.map((r) => r[d]), [2], c.dtype));
  const f = (t: Tensor, [a, b]: Tensor[]) => [mul(t, b), neg(a)];
  for (const tab of TABLEAUS) {
    const sol = await solveOde(f, y0, 0, 2, { tableau: tab, fixedSteps: 20 });
    const want = init.map((r) => hostRk(tab, r, 0, 2, 20));
    const t = c.dtype === "f64" ? tol.f64 : tol.odeFixedStepF32;
    for (const d of [0, 1]) {
      assertAllClose(await sol.y[d].read(), want.map((w) => w[d]), t, `${tab.name} y${d + 1}`);
    }
    const perStep = tab.fsal ? tab.c.length - 1 : tab.c.length;
    assert.equal(sol.nfe, 20 * perStep + (tab.fsal ? 1 : 0), `${tab.name} NFE`);
    sol.y.forEach((v) => v.dispose());
  }
  y0.forEach((v) => v.dispose());
});

eachBackend("live memory after a solve is the result alone (adaptive and fixed)", async (c) => {
  const k = tensor(c.backend, RATES, [4, 1], c.dtype);
  const y0 = tensor(c.backend, Y0, [4, 2], c.dtype);
  const f = (_t: Tensor, [y]: Tensor[]) => [neg(mul(k, y))];
  for (const o of [dp5(c.dtype), { tableau: HEUN, fixedSteps: 30 }]) {
    (await solveOde(f, [y0], 0, 1, o)).y[0].dispose(); // warm the scalar-constant cache
    const before = c.backend.liveBytes();
    const sol = await solveOde(f, [y0], 0, 1, o);
    assert.equal(c.backend.liveBytes() - before, Y0.length * (c.dtype === "f64" ? 8 : 4));
    sol.y[0].dispose();
    assert.equal(c.backend.liveBytes(), before, "nothing else survives the solve");
  }
  k.dispose();
  y0.dispose();
});

// The likelihood's use (docs/MATH.md §2): f differentiates inside (a divergence by VJPs) and returns
// tensors that carry a tape; the solver must use them detached and free every graph.
eachBackend(
  "f returning taped tensors (exact divergence of −k·x) is exact and leaks nothing",
  async (c) => {
    const k = tensor(c.backend, RATES, [4, 1], c.dtype);
    const x0 = tensor(c.backend, Y0, [4, 2], c.dtype);
    const l0 = tensor(c.backend, [0, 0, 0, 0], [4], c.dtype);
    const f = (_t: Tensor, [x]: Tensor[]) => {
      const { value, div } = divergence((y) => neg(mul(k, y)), x, { method: "exact" });
      return [value, div];
    };
    (await solveOde(f, [x0, l0], 0, 1, dp5(c.dtype))).y.forEach((v) => v.dispose());
    const before = c.backend.liveBytes();
    const sol = await solveOde(f, [x0, l0], 0, 1, dp5(c.dtype));
    assert.equal(c.backend.liveBytes() - before, 12 * (c.dtype === "f64" ? 8 : 4));
    assert.ok(sol.y.every((v) => !v.requiresGrad), "the result carries no tape");
    const x1 = Y0.map((v, i) => v * Math.exp(-RATES[i >> 1]));
    assertAllClose(await sol.y[0].read(), x1, exactTol(c.dtype), "x(1)");
    // dℓ/dt = ∇·(−k x) = −k·D with D = 2
    assertAllClose(await sol.y[1].read(), RATES.map((r) => -2 * r), exactTol(c.dtype), "ℓ(1)");
    for (const t of [k, x0, l0, ...sol.y]) t.dispose();
  },
);
