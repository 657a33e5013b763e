/**
 * Gradient checks by the dot-product test (JAX's check_grads): for random directions u and v,
 * ⟨u, vjp(v)⟩ must equal ⟨(f(x+εu) − f(x−εu))/2ε, v⟩. Applied to f and to x ↦ vjp_f(x)(w),
 * it checks first and second order. Run on the float64 reference, where differences are exact
 * enough to mean something.
 */

import { referenceBackend } from "../../compute/select.ts";
import { tensor } from "../../compute/constants.ts";
import { vjp } from "../../compute/autodiff/grad.ts";
import { add, mul, sum } from "../../compute/ops/basic.ts";
import type { Tensor } from "../../compute/tensor.ts";
import { tidy } from "../../compute/scope.ts";
import { Rng } from "../../compute/rng.ts";
import { tol } from "./tolerances.ts";

type Fn = (x: Tensor) => Tensor;

async function dot(a: Tensor, b: Tensor): Promise<number> {
  return await sum(mul(a, b)).item();
}

/** Asserts the directional check for `f` at `x` (a float64 reference tensor). */
export async function checkVjp(
  f: Fn,
  x: Tensor,
  seed = 0,
  what = "vjp",
  eps = 1e-5,
): Promise<void> {
  const be = referenceBackend();
  const rng = Rng.fromSeed(seed);
  const u = rng.normal(be, x.shape, "f64");
  const { value, pullback } = vjp(f, x);
  const v = rng.normal(be, value.shape, "f64");
  const analytic = await dot(u, pullback(v));
  const fp = tidy(() => f(add(x, mul(u, eps))));
  const fm = tidy(() => f(add(x, mul(u, -eps))));
  const numeric = ((await dot(fp, v)) - (await dot(fm, v))) / (2 * eps);
  const scale = Math.max(Math.abs(numeric), Math.abs(analytic));
  if (Math.abs(analytic - numeric) > tol.finiteDiff.atol + tol.finiteDiff.rtol * scale) {
    throw new Error(`${what}: ⟨u, vjp(v)⟩ = ${analytic} but finite differences give ${numeric}`);
  }
}

/** First- and second-order dot-product checks of `f` at `x` (float64 reference). */
export async function checkGrads(
  f: Fn,
  x0: ArrayLike<number>,
  shape: number[],
  what: string,
  seed = 0,
) {
  const be = referenceBackend();
  const x = tensor(be, x0, shape, "f64");
  await checkVjp(f, x, seed, `${what} (first order)`);
  // Second order: x ↦ vjp_f(x)(w) for a fixed w is itself a function of x.
  const w = Rng.fromSeed(seed + 1000).normal(be, f(x).shape, "f64");
  await checkVjp((y) => vjp(f, y).pullback(w), x, seed + 1, `${what} (second order)`);
}
