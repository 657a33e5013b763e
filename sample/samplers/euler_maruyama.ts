/**
 * Euler–Maruyama on the reverse SDE dx = [f(t)x − g(t)² s(x, t)] dt + g(t) dW̄ (docs/MATH.md §1, §4),
 * from t = grid[0] down to grid[last]; the last step adds no noise (it returns the mean of the
 * final transition, as score_sde's samplers do). One score evaluation per step; nothing is
 * read back. Optionally tracks log p_t(x) along the path (docs/MATH.md §4) with the very Gaussian
 * increments of the x update.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mul, referenceBackend, Rng } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { mean } from "../../io/statistics.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // two Gaussian blobs whose exact score stands in for a trained network
 * const model = GmmModel.isotropic(
 *   { weights: [0.5, 0.5], means: [[-2, 0], [2, 0]], stds: [0.5, 0.5] },
 *   sde,
 * );
 * const grid = uniformTimeGrid(sde.T, sde.tMinSampling, 100);
 * const xT = mul(rng.normal(backend, [16, 2], "f64"), sde.priorStd);
 * const { x, nfe } = eulerMaruyama((x, t) => model.score(x, t), sde, xT, grid, rng);
 * assert.equal(nfe, 100);
 * const x1 = (await x.read()).filter((_, i) => i % 2 === 0); // first coordinates
 * assert.ok(Math.abs(mean(x1.map(Math.abs)) - 2) < 0.4); // the blobs sit at x₁ = ±2
 * ```
 */

import {
  add,
  type DivergenceMethod,
  full,
  keep,
  mul,
  noGrad,
  type Rng,
  stopGradient,
  sub,
  type Tensor,
  tidy,
} from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import {
  logpRateDeterministic,
  reverseSdeLogpIncrement,
  scoreAndLaplacian,
} from "../logp_tracking.ts";

/** N + 1 equally spaced times from `from` to `to` (N steps). */
export function uniformTimeGrid(from: number, to: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be ≥ 1, got ${steps}`);
  }
  // the end point exactly, not from + (to − from)·1 with its rounding
  return Array.from(
    { length: steps + 1 },
    (_, i) => (i === steps ? to : from + (to - from) * (i / steps)),
  );
}

/** Log-density tracking: log p at grid[0] per example ([B]), and how to take Δlog p. */
export interface LogpTracking {
  initial: Tensor;
  /** for the noise-free last step only, whose rate needs Δlog p = ∇·s */
  divergence: DivergenceMethod;
}

export interface EulerMaruyamaOptions {
  /**
   * The standard normal z of step i (shape of x), so that dW̄ = √|dt| z; default
   * `rng.derive(i).normal(…)`. Lets a caller share one Brownian path between grids.
   */
  noise?: (step: number) => Tensor;
  logp?: LogpTracking;
}

/**
 * One reverse-SDE step from t to t + dt (dt < 0): x + [f x − g² s] dt + g √|dt| z, or the mean
 * alone when z is null. Returns the new x, and with `logp` its updated log-density:
 * `reverseSdeLogpIncrement` for a noisy step, the deterministic rate of u = f x − g² s (which
 * needs Δlog p) for the noise-free one. Records no tape.
 */
export function eulerMaruyamaStep(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  t: number,
  dt: number,
  z: Tensor | null,
  logp?: { value: Tensor; divergence: DivergenceMethod },
): { x: Tensor; logp?: Tensor } {
  const tT = full(x.backend, [x.shape[0]], t, x.dtype);
  let s: Tensor, laplacian: Tensor | null = null;
  if (logp && z === null) {
    const both = scoreAndLaplacian(score, x, tT, logp.divergence);
    [s, laplacian] = [stopGradient(both.score), stopGradient(both.laplacian)];
  } else s = noGrad(() => score(x, tT));
  return noGrad(() => {
    const drift = sub(mul(x, sde.driftCoef(t)), mul(s, sde.diffusion2(t)));
    const mean = add(x, mul(drift, dt));
    const next = z === null ? mean : add(mean, mul(z, Math.sqrt(sde.diffusion2(t) * Math.abs(dt))));
    if (!logp) return { x: next };
    const inc = z === null
      ? mul(logpRateDeterministic(sde, x, tT, s, laplacian!, drift), dt)
      : reverseSdeLogpIncrement(sde, t, dt, s, z);
    return { x: next, logp: add(logp.value, inc) };
  });
}

/**
 * Runs the sampler; `x` (at grid[0]) and `options.logp.initial` are not consumed. The results
 * are kept tensors (the caller disposes them); `logp` is log p_{grid[last]} of the result.
 */
export function eulerMaruyama(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  grid: readonly number[],
  rng: Rng,
  options: EulerMaruyamaOptions = {},
): { x: Tensor; nfe: number; logp?: Tensor } {
  const noise = options.noise ?? ((i: number) => rng.derive(i).normal(x.backend, x.shape, x.dtype));
  const track = options.logp;
  let cur = x, ell = track?.initial;
  for (let i = 0; i + 1 < grid.length; i++) {
    const t = grid[i], dt = grid[i + 1] - t;
    const last = i + 2 === grid.length;
    const next = tidy(() => {
      const z = last ? null : noise(i);
      const logp = track && { value: ell!, divergence: track.divergence };
      const r = eulerMaruyamaStep(score, sde, cur, t, dt, z, logp);
      return { x: keep(r.x), logp: r.logp && keep(r.logp) };
    });
    if (cur !== x) cur.dispose();
    if (ell !== track?.initial) ell!.dispose();
    cur = next.x;
    ell = next.logp;
  }
  if (cur === x) cur = keep(noGrad(() => mul(x, 1)));
  if (track && ell === track.initial) ell = keep(noGrad(() => mul(ell!, 1)));
  return { x: cur, nfe: grid.length - 1, logp: ell };
}
