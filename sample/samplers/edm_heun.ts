/**
 * EDM's deterministic sampler (Karras et al. 2022, Algorithm 1) on any process (docs/samplers.md
 * §3): Heun's method on the PF-ODE dy/dν = ε̂ in the noise-to-signal ratio ν = σ/α with y = x/α
 * (noise_ratio_ode.ts), where every process reads y = x₀ + ν z and ν is EDM's σ. The levels are
 * EDM's ν_i = (ν_max^{1/ρ} + i/(N−1)(ν_min^{1/ρ} − ν_max^{1/ρ}))^ρ, i < N, with ρ = 7, ν_max = ν(T)
 * and ν_min = ν(t_min), mapped to times by the process's closed-form λ⁻¹ (λ = −2 ln ν), then
 * ν_N = 0. Each of the N − 1 steps between ν_max and ν_min takes Heun's second-order correction;
 * the last, to ν = 0, is an Euler step, which returns the denoised x̂₀ = E[x₀ | x_{t_min}]: at
 * ν = 0, y = x₀ + ν z is the data itself, whatever the process. 2N − 1 score evaluations in all. With `logp`,
 * ℓ_y = log p + D ln α is integrated by the same Heun and Euler steps (dℓ_y/dν = ασΔlog p), so the
 * result carries the log-density of the sampler's output at ν = 0 under the model's flow.
 * Algorithm 2's churn (`EdmChurn`) adds noise before a step and raises its level; it has no
 * tracked density.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { mean } from "../../io/statistics.ts";
 * import { priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // two Gaussian blobs whose exact score stands in for a trained network
 * const model = GmmModel.isotropic(
 *   { weights: [0.5, 0.5], means: [[-2, 0], [2, 0]], stds: [0.5, 0.5] },
 *   sde,
 * );
 * const xT = priorSample(sde, rng.derive("prior"), backend, [64, 2], "f64");
 * const levels = edmLevels(sde, sde.T, sde.tMinSampling, 18);
 * const { x, nfe } = edmHeun((x, t) => model.score(x, t), sde, xT, levels);
 * assert.equal(nfe, 35);
 * const x1 = (await x.read()).filter((_, i) => i % 2 === 0); // first coordinates
 * assert.ok(Math.abs(mean(x1.map(Math.abs)) - 2) < 0.2); // the blobs sit at x₁ = ±2
 * ```
 */

import { add, keep, mul, noGrad, type Tensor, tidy } from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import type { LogpTracking } from "./euler_maruyama.ts";
import { noiseAndLogpRate, noiseRatio } from "./noise_ratio_ode.ts";

/** EDM's exponent ρ: larger values crowd the levels towards ν_min. */
export const EDM_RHO = 7;

/** The noise levels of an N-step run: ν_0 > … > ν_{N−1} > ν_N = 0, and the times of all but ν_N. */
export interface EdmLevels {
  nu: number[];
  t: number[];
}

/**
 * EDM's levels between ν(tMax) and ν(tMin) (the file comment), the end times exact rather than
 * round-tripped through λ⁻¹. `steps` = N ≥ 1; N = 1 is a single Euler step from ν_max to 0.
 */
export function edmLevels(
  sde: Sde,
  tMax: number,
  tMin: number,
  steps: number,
  rho = EDM_RHO,
): EdmLevels {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be ≥ 1, got ${steps}`);
  }
  if (!(tMin < tMax)) throw new RangeError(`edmLevels: need tMin < tMax, got ${tMin}, ${tMax}`);
  const hi = noiseRatio(sde, tMax) ** (1 / rho), lo = noiseRatio(sde, tMin) ** (1 / rho);
  const t: number[] = [], nu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const first = i === 0, last = i === steps - 1 && steps > 1;
    const v = first
      ? noiseRatio(sde, tMax)
      : last
      ? noiseRatio(sde, tMin)
      : (hi + (i / (steps - 1)) * (lo - hi)) ** rho;
    nu.push(v);
    t.push(first ? tMax : last ? tMin : sde.timeOfLogSnr(-2 * Math.log(v)));
  }
  nu.push(0);
  return { nu, t };
}

/**
 * EDM's stochastic variant (Algorithm 2): before step i, if S_tmin ≤ ν_i ≤ S_tmax, the level is
 * raised to ν̂ = ν_i(1 + γ), γ = min(S_churn/N, √2 − 1), by adding noise of variance
 * (ν̂² − ν_i²)S_noise² to y, and the step starts from ν̂. ν̂ is capped at ν_0 = ν(T), where the
 * model's time range ends. S_churn = 0 is Algorithm 1.
 */
export interface EdmChurn {
  sChurn: number;
  sTmin: number;
  sTmax: number;
  sNoise: number;
  /** the standard normal z of step i (shape of x) */
  noise: (step: number) => Tensor;
}

/** EDM's defaults for the churn window and noise scale: everywhere, unscaled. */
export const EDM_CHURN_DEFAULTS = { sTmin: 0, sTmax: Infinity, sNoise: 1 } as const;

/**
 * Runs the sampler from x at levels.t[0]; `x` and `logp.initial` (log p at levels.t[0]) are not
 * consumed. Returns kept tensors the caller disposes: the samples at ν = 0 and, with `logp`,
 * their tracked log-density (deterministic runs only: churn adds noise).
 */
export function edmHeun(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  levels: EdmLevels,
  options: { logp?: LogpTracking; churn?: EdmChurn } = {},
): { x: Tensor; nfe: number; logp?: Tensor } {
  const { nu, t } = levels, track = options.logp, how = track?.divergence, churn = options.churn;
  const N = t.length;
  if (nu.length !== N + 1 || nu[N] !== 0) {
    throw new RangeError("edmHeun: levels need one more ν than times, the last 0");
  }
  if (track && churn && churn.sChurn > 0) {
    throw new RangeError("edmHeun: log p is tracked only without churn (S_churn = 0)");
  }
  const D = x.size / x.shape[0];
  const gamma = churn ? Math.min(churn.sChurn / N, Math.SQRT2 - 1) : 0;
  // the state is y = x/α and ℓ_y = log p + D ln α
  const alpha0 = sde.alpha(t[0]);
  let y = tidy(() => noGrad(() => keep(mul(x, 1 / alpha0))));
  let ell = track && tidy(() => noGrad(() => keep(add(track.initial, D * Math.log(alpha0)))));
  const at = (yy: Tensor, time: number) =>
    noiseAndLogpRate(score, sde, noGrad(() => mul(yy, sde.alpha(time))), time, how);
  for (let i = 0; i < N; i++) {
    const raise = gamma > 0 && nu[i] >= churn!.sTmin && nu[i] <= churn!.sTmax;
    const nuHat = raise ? Math.min(nu[i] * (1 + gamma), nu[0]) : nu[i];
    const tHat = nuHat === nu[i]
      ? t[i]
      : nuHat === nu[0]
      ? t[0]
      : sde.timeOfLogSnr(-2 * Math.log(nuHat));
    const h = nu[i + 1] - nuHat;
    const next = tidy(() => {
      const start = nuHat === nu[i]
        ? y
        : noGrad(() =>
          add(y, mul(churn!.noise(i), churn!.sNoise * Math.sqrt(nuHat * nuHat - nu[i] * nu[i])))
        );
      const d = at(start, tHat);
      const euler = noGrad(() => add(start, mul(d.eps, h)));
      const eulerEll = d.rate && noGrad(() => add(ell!, mul(d.rate!, h)));
      if (i === N - 1) return { y: keep(euler), ell: eulerEll && keep(eulerEll) };
      // Heun's correction: the slope at the Euler prediction, averaged with the first
      const e = at(euler, t[i + 1]);
      return noGrad(() => ({
        y: keep(add(start, mul(add(d.eps, e.eps), 0.5 * h))),
        ell: d.rate && keep(add(ell!, mul(add(d.rate, e.rate!), 0.5 * h))),
      }));
    });
    y.dispose();
    ell?.dispose();
    y = next.y;
    ell = next.ell;
  }
  // at ν = 0, y = x₀ + ν z is the data itself and ℓ_y its log-density, whatever the process
  return { x: y, nfe: 2 * N - 1, logp: ell };
}
