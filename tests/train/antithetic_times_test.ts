/**
 * The flow objective's times (MATH.md §3.3, train/time_sampling.ts): γ has density ∝ α² =
 * sigmoid(−γ) on [γ0, γ1], whose CDF is F(γ) = [ln(1 + e^{−γ0}) − ln(1 + e^{−γ})]/Z. The first
 * ⌈n/2⌉ times invert fresh uniforms u_i, and time ⌈n/2⌉ + i inverts 1 − u_i: so F maps the
 * batch back to exactly those uniforms, and each pair sums to 1 under F.
 */

import assert from "node:assert/strict";
import { tol } from "../_helpers/tolerances.ts";
import { Rng } from "../../compute/mod.ts";
import { velocityImportanceTimes } from "../../train/time_sampling.ts";

const G0 = -13.3, G1 = 5;
const Z = Math.log((1 + Math.exp(-G0)) / (1 + Math.exp(-G1)));
/** F(γ(t)) for the linear schedule γ = γ0 + (γ1 − γ0)t */
const cdf = (t: number) => {
  const gamma = G0 + (G1 - G0) * t;
  return (Math.log1p(Math.exp(-G0)) - Math.log1p(Math.exp(-gamma))) / Z;
};

Deno.test("flow times: the second half of the batch is the first half's antithetic partner", () => {
  for (const n of [10, 7]) {
    const half = Math.ceil(n / 2);
    const { t, Z: weight } = velocityImportanceTimes(Rng.fromSeed(9).derive("time"), n, G0, G1);
    assert.ok(Math.abs(weight - Z) <= tol.f64.atol + tol.f64.rtol * Z, `Z = ${weight}`);
    assert.equal(t.length, n);
    const u = Rng.fromSeed(9).derive("time").uniformHost(half);
    const eps = tol.antitheticCdfRoundTrip.atol;
    for (let i = 0; i < half; i++) {
      assert.ok(Math.abs(cdf(t[i]) - u[i]) < eps, `F(t_${i}) = ${cdf(t[i])} vs u = ${u[i]}`);
    }
    for (let i = half; i < n; i++) {
      assert.ok(
        Math.abs(cdf(t[i]) - (1 - u[i - half])) < eps,
        `n = ${n}: F(t_${i}) = ${cdf(t[i])}, expected 1 − u_${i - half} = ${1 - u[i - half]}`,
      );
      assert.ok(Math.abs(cdf(t[i]) + cdf(t[i - half]) - 1) < eps);
    }
    for (const ti of t) assert.ok(ti >= 0 && ti <= 1, `t = ${ti} outside [0, 1]`);
  }
});
