/**
 * Step control and accounting of solveOde on the float64 reference, where rounding cannot hide
 * a wrong step: per-example control (batch-invariant results and NFE), tolerances honoured,
 * NFE per step, landing exactly on t1, observed order of the fixed-step methods, and errors.
 */

import assert from "node:assert/strict";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { mul, neg, referenceBackend, type Tensor, tensor } from "../../compute/mod.ts";
import { type OdeOptions, solveOde } from "../../sde/ode/solve.ts";
import { BOGACKI_SHAMPINE, DORMAND_PRINCE, EULER, TABLEAUS } from "../../sde/ode/tableaus.ts";

const be = referenceBackend();

/** y' = −k·y for one rate per example, state [B, 2], from y0 = [1, −2]: returns y(1), stats. */
async function decay(rates: number[], o: OdeOptions, t0 = 0, t1 = 1) {
  const B = rates.length;
  const k = tensor(be, rates, [B, 1], "f64");
  const y0 = tensor(be, rates.flatMap(() => [1, -2]), [B, 2], "f64");
  const sol = await solveOde((_t, [y]) => [neg(mul(k, y))], [y0], t0, t1, o);
  const y = Float64Array.from(await sol.y[0].read());
  for (const t of [k, y0, sol.y[0]]) t.dispose();
  const exact = rates.flatMap((r) => [1, -2].map((v) => v * Math.exp(-r * (t1 - t0))));
  return { ...sol, y, exact };
}

const dp5 = (tolerance: number): OdeOptions => ({
  tableau: DORMAND_PRINCE,
  rtol: tolerance,
  atol: tolerance,
});

Deno.test("per-example control: each example's result and NFE are the same alone or in a batch", async () => {
  const rates = [0.1, 50, 1, 20, 5];
  const batch = await decay(rates, dp5(1e-6));
  const solo: Awaited<ReturnType<typeof decay>>[] = [];
  for (const r of rates) solo.push(await decay([r], dp5(1e-6)));
  // Solves may also run concurrently: no scope stays open across a readback.
  const together = await Promise.all(rates.map((r) => decay([r], dp5(1e-6))));
  together.forEach((s, b) => assertAllClose(s.y, solo[b].y, tol.odeBatchInvariance, "concurrent"));
  rates.forEach((r, b) => {
    const s = solo[b];
    assertAllClose(batch.y.subarray(2 * b, 2 * b + 2), s.y, tol.odeBatchInvariance, `k=${r}`);
    assert.equal(batch.nfePerExample[b], s.nfe, `k=${r}: NFE in the batch vs alone`);
    assert.equal(batch.acceptedPerExample[b], s.acceptedPerExample[0], `k=${r} accepted`);
    assert.equal(batch.rejectedPerExample[b], s.rejectedPerExample[0], `k=${r} rejected`);
    assert.equal(s.steps, s.acceptedPerExample[0] + s.rejectedPerExample[0], "B = 1 bookkeeping");
  });
  // The batch runs until its slowest example is done, and no longer.
  assert.equal(batch.steps, Math.max(...solo.map((s) => s.steps)));
  assert.equal(batch.nfe, Math.max(...solo.map((s) => s.nfe)));
  // A shared step would give every example the stiff one's count; here k = 0.1 needs far fewer.
  assert.ok(batch.acceptedPerExample[0] * 5 < batch.acceptedPerExample[1], "0.1 vs 50");
  assertAllClose(batch.y, batch.exact, tol.odeAdaptiveF64, "batch against e^(−k)");
});

Deno.test("rtol/atol are honoured: DP5 within 10·tol at 1e-6, and tighter tolerances cost steps", async () => {
  const rates = [0.1, 1, 5, 20, 50];
  const at6 = await decay(rates, dp5(1e-6));
  assertAllClose(at6.y, at6.exact, tol.odeAdaptiveF64, "DP5 at 1e-6");
  const bs3 = await decay(rates, { ...dp5(1e-6), tableau: BOGACKI_SHAMPINE });
  assertAllClose(bs3.y, bs3.exact, tol.odeAdaptiveF64, "BS3 at 1e-6");
  let lastErr = Infinity, lastSteps = 0;
  for (const t of [1e-3, 1e-5, 1e-7, 1e-9]) {
    const r = await decay(rates, dp5(t));
    const err = Math.max(
      ...r.y.map((v, i) => Math.abs(v - r.exact[i]) / (t * (1 + Math.abs(r.exact[i])))),
    );
    assert.ok(err < 10, `error ${err}·tol at tol ${t}`);
    const abs = Math.max(...r.y.map((v, i) => Math.abs(v - r.exact[i])));
    assert.ok(abs < lastErr && r.steps > lastSteps, `tol ${t}: error ${abs}, steps ${r.steps}`);
    [lastErr, lastSteps] = [abs, r.steps];
  }
});

Deno.test("NFE: 6 per DP5 step and 3 per BS3 step with FSAL, +1 for f(t0), +1 for the h0 probe", async () => {
  for (const [tableau, perStep] of [[DORMAND_PRINCE, 6], [BOGACKI_SHAMPINE, 3]] as const) {
    const auto = await decay([0.5, 3], { tableau, rtol: 1e-5, atol: 1e-5 });
    assert.equal(auto.nfe, 2 + perStep * auto.steps, `${tableau.name} with Hairer's h0`);
    const given = await decay([0.5, 3], { tableau, rtol: 1e-5, atol: 1e-5, h0: 0.01 });
    assert.equal(given.nfe, 1 + perStep * given.steps, `${tableau.name} with h0 given`);
  }
  // h0 = 1 on k = 50 must be rejected; the rejected attempts count in NFE and in `rejected`.
  const forced = await decay([50], { ...dp5(1e-5), h0: 1 });
  assert.ok(forced.rejected >= 1, `rejected ${forced.rejected}`);
  assert.equal(forced.steps, forced.acceptedPerExample[0] + forced.rejected);
  assert.equal(forced.nfe, 1 + 6 * forced.steps);
  assertAllClose(forced.y, forced.exact, tol.odeAdaptiveF64, "after rejections");
});

Deno.test("the error norm covers every component: a fast one beside a static one, in either slot", async () => {
  // x' = 0 alone would let the step grow ×10 per step; ℓ' = −50ℓ needs h ≲ 0.06 for stability.
  const xs = [1, 2, 3, 4, 5, 6], ls = [1, -1];
  const x0 = tensor(be, xs, [2, 3], "f64"), l0 = tensor(be, ls, [2], "f64");
  for (const xFirst of [true, false]) {
    const f = (_t: Tensor, [a, b]: Tensor[]) =>
      xFirst ? [mul(a, 0), mul(b, -50)] : [mul(a, -50), mul(b, 0)];
    const sol = await solveOde(f, xFirst ? [x0, l0] : [l0, x0], 0, 0.1, dp5(1e-6));
    const [x, l] = xFirst ? sol.y : [sol.y[1], sol.y[0]];
    assertAllClose(await l.read(), ls.map((v) => v * Math.exp(-5)), tol.odeAdaptiveF64, "ℓ");
    assertAllClose(await x.read(), xs, tol.exact, "x");
    sol.y.forEach((t) => t.dispose());
  }
  x0.dispose();
  l0.dispose();
});

Deno.test("every example lands exactly on t1 (forwards and backwards) and never steps past it", async () => {
  for (const [t0, t1] of [[0.3, 1.7], [1.7, 0.3]]) {
    // Different magnitudes weigh atol and rtol differently, so the examples' steps differ.
    const ys = [1e-3, 1, 100];
    const y0 = tensor(be, ys, [3], "f64");
    const reads: Promise<Float32Array | Float64Array>[] = [];
    const f = (t: Tensor, [y]: Tensor[]) => {
      reads.push(t.read()); // the reference copies at call time, before the step frees t
      return [mul(y, t)];
    };
    const sol = await solveOde(f, [y0], t0, t1, dp5(1e-7));
    const seen: number[][] = [[], [], []];
    for (const r of await Promise.all(reads)) r.forEach((tb, b) => seen[b].push(tb));
    const [lo, hi] = [Math.min(t0, t1), Math.max(t0, t1)];
    for (let b = 0; b < 3; b++) {
      assert.ok(seen[b].every((tb) => tb >= lo && tb <= hi), `example ${b} stepped outside`);
      assert.equal(seen[b].at(-1), t1, `example ${b}'s last stage is at t1 exactly`);
    }
    const g = Math.exp((t1 * t1 - t0 * t0) / 2);
    assertAllClose(await sol.y[0].read(), ys.map((v) => v * g), tol.odeAdaptiveF64);
    y0.dispose();
    sol.y[0].dispose();
  }
});

Deno.test("fixed steps: the error ratio when halving h is 2^order for every tableau", async () => {
  // The rotation [y1, y2]' = [y2, −y1] over [0, 4]: exact (cos t, −sin t).
  const a = tensor(be, [1], [1], "f64"), b = tensor(be, [0], [1], "f64");
  const error = async (tableau: typeof EULER, n: number) => {
    const s = await solveOde((_t, [u, v]) => [v, neg(u)], [a, b], 0, 4, { tableau, fixedSteps: n });
    const [u, v] = [(await s.y[0].read())[0], (await s.y[1].read())[0]];
    s.y.forEach((t) => t.dispose());
    return Math.hypot(u - Math.cos(4), v + Math.sin(4));
  };
  for (const tab of TABLEAUS) {
    const observed = Math.log2((await error(tab, 32)) / (await error(tab, 64)));
    assertAllClose([observed], [tab.order], tol.odeObservedOrder, `${tab.name} observed order`);
  }
  a.dispose();
  b.dispose();
});

Deno.test("misuse is refused: no embedded pair, bad fixedSteps, wrong f shape, maxSteps", async () => {
  const y0 = tensor(be, [1, 2], [2, 1], "f64");
  await assert.rejects(solveOde((_t, [y]) => [y], [y0], 0, 1, { tableau: EULER }), /fixedSteps/);
  await assert.rejects(
    solveOde((_t, [y]) => [y], [y0], 0, 1, { tableau: EULER, fixedSteps: 0 }),
    /positive integer/,
  );
  await assert.rejects(
    solveOde((t) => [t], [y0], 0, 1, dp5(1e-5)),
    /must match its component's shape/,
  );
  await assert.rejects(
    solveOde((_t, [y]) => [mul(y, -50)], [y0], 0, 1, { ...dp5(1e-9), maxSteps: 5 }),
    /5 steps did not reach t1=1/,
  );
  assertAllClose(await y0.read(), [1, 2], tol.exact, "y0 survives failed solves");
  y0.dispose();
});
