/**
 * Euler–Maruyama on the reverse SDE dx = [f(t)x − g(t)² s(x, t)] dt + g(t) dW̄ (MATH.md §1, §4),
 * from t = grid[0] down to grid[last]; the last step adds no noise (it returns the mean of the
 * final transition, as score_sde's samplers do). One score evaluation per step; nothing is
 * read back.
 *
 * @example
 * ```ts
 * const grid = uniformTimeGrid(sde.T, sde.tMinSampling, 100);
 * const xT = mul(rng.normal(backend, [16, 1, 28, 28]), sde.priorStd);
 * const { x, nfe } = eulerMaruyama((x, t) => model.score(x, t), sde, xT, grid, rng);
 * ```
 */

import {
  add,
  full,
  keep,
  mul,
  noGrad,
  type Rng,
  sub,
  type Tensor,
  tidy,
} from "../../compute/mod.ts";
import type { Sde } from "../../sde/sde.ts";

export type ScoreFn = (x: Tensor, t: Tensor) => Tensor;

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

/** Runs the sampler; `x` (at grid[0]) is not consumed. The result is a kept tensor. */
export function eulerMaruyama(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  grid: readonly number[],
  rng: Rng,
): { x: Tensor; nfe: number } {
  const B = x.shape[0];
  let cur = x;
  for (let i = 0; i + 1 < grid.length; i++) {
    const t = grid[i], dt = grid[i + 1] - t;
    const last = i + 2 === grid.length;
    const next = keep(tidy(() =>
      noGrad(() => {
        const s = score(cur, full(x.backend, [B], t, x.dtype));
        // x + [f x − g² s] dt, with dt < 0
        const drift = sub(mul(cur, sde.driftCoef(t)), mul(s, sde.diffusion2(t)));
        const mean = add(cur, mul(drift, dt));
        if (last) return mean;
        const z = rng.derive(i).normal(x.backend, x.shape, x.dtype);
        return add(mean, mul(z, Math.sqrt(sde.diffusion2(t) * Math.abs(dt))));
      })
    ));
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return { x: cur, nfe: grid.length - 1 };
}
