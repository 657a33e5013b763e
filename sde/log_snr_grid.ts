/**
 * K steps from t_max down to t_min equally spaced in log-SNR λ, the ends exact (docs/MATH.md §1:
 * λ⁻¹ in closed form): the grid of the Likelihood-Matching sampler and chain bound and of
 * stochastic guidance. Equal λ steps put points where the log-density changes, near the data,
 * which a grid uniform in t would leave with one or two steps.
 */

import type { Sde } from "./sde.ts";

export function logSnrGrid(sde: Sde, tMax: number, tMin: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be ≥ 1, got ${steps}`);
  }
  const hi = sde.logSnr(tMax), lo = sde.logSnr(tMin);
  return Array.from(
    { length: steps + 1 },
    (_, i) => i === 0 ? tMax : i === steps ? tMin : sde.timeOfLogSnr(hi + ((lo - hi) * i) / steps),
  );
}
