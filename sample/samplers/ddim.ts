/**
 * DDIM (Song, Meng & Ermon 2021) on any process x_t = α_t x₀ + σ_t z (docs/samplers.md §2): from
 * t to s < t, with ε̂ = −σ_t s(x_t, t) and x̂₀ = (x_t − σ_t ε̂)/α_t,
 *
 *   x_s = α_s x̂₀ + √(σ_s² − c²) ε̂ + c z,   c = η σ_s √(1 − e^{λ_t − λ_s}),
 *
 * where e^{λ_t − λ_s} = α_t²σ_s²/(α_s²σ_t²). Every η ∈ [0, 1] keeps the marginals N(α_s x₀, σ_s² I)
 * of the forward process; η = 1 is the exact Gaussian posterior q(x_s | x_t, x₀), the ancestral
 * (DDPM-like) sampler, and η = 0 is deterministic: Euler in ν = σ/α on the PF-ODE written as
 * dy/dν = ε̂ with y = x/α (noise_ratio_ode.ts), a first-order exponential integrator. Only then is
 * log p tracked, with the same Euler step on ℓ_y (docs/samplers.md §2); a stochastic step has no
 * such rate. Noise is added on every step, the last included, so that with the exact score the
 * samples are distributed as p_{t_min} itself, the density that tracking and reports refer to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { mean } from "../../io/statistics.ts";
 * import { priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * import { uniformTimeGrid } from "./euler_maruyama.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // two Gaussian blobs whose exact score stands in for a trained network
 * const model = GmmModel.isotropic(
 *   { weights: [0.5, 0.5], means: [[-2, 0], [2, 0]], stds: [0.5, 0.5] },
 *   sde,
 * );
 * const xT = priorSample(sde, rng.derive("prior"), backend, [64, 2], "f64");
 * const grid = uniformTimeGrid(sde.T, sde.tMinSampling, 50);
 * const { x, nfe } = ddim((x, t) => model.score(x, t), sde, xT, grid, rng, { eta: 0 });
 * assert.equal(nfe, 50);
 * const x1 = (await x.read()).filter((_, i) => i % 2 === 0); // first coordinates
 * assert.ok(Math.abs(mean(x1.map(Math.abs)) - 2) < 0.2); // the blobs sit at x₁ = ±2
 * ```
 */

import { add, keep, mul, noGrad, type Rng, type Tensor, tidy } from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import type { LogpTracking } from "./euler_maruyama.ts";
import { noiseAndLogpRate, noiseRatio } from "./noise_ratio_ode.ts";

export interface DdimOptions {
  /** η ∈ [0, 1]: 0 deterministic, 1 the ancestral sampler */
  eta: number;
  /** the standard normal z of step i (shape of x); default `rng.derive(i).normal(…)` */
  noise?: (step: number) => Tensor;
  /** log p at grid[0] and the divergence of the score; η = 0 only */
  logp?: LogpTracking;
}

/** The step t → s as x_s = a x_t + b ε̂ + c z (host numbers, float64). */
export interface DdimCoefficients {
  a: number;
  b: number;
  c: number;
}

/**
 * a = α_s/α_t, b = √(σ_s² − c²) − α_sσ_t/α_t, c = η σ_s √(1 − e^{λ_t − λ_s}) (the file comment,
 * expanded with x̂₀ = (x_t − σ_t ε̂)/α_t). α_sσ_t/α_t is written σ_s e^{(λ_s − λ_t)/2} and
 * 1 − e^{λ_t − λ_s} as −expm1(λ_t − λ_s), which keep their digits when the step is short.
 * With η = 0 any direction is allowed (s > t runs the ODE forward: DDIM inversion).
 */
export function ddimCoefficients(sde: Sde, t: number, s: number, eta: number): DdimCoefficients {
  if (!(eta >= 0 && eta <= 1)) throw new RangeError(`ddim: η must lie in [0, 1], got ${eta}`);
  if (eta > 0 && !(s < t)) {
    throw new RangeError(`ddim: a stochastic step (η = ${eta}) must go down in time, ${t} → ${s}`);
  }
  const lt = sde.logSnr(t), ls = sde.logSnr(s), sigmaS = sde.sigma(s);
  const c = eta === 0 ? 0 : eta * sigmaS * Math.sqrt(-Math.expm1(lt - ls));
  return {
    a: sde.alpha(s) / sde.alpha(t),
    b: Math.sqrt(Math.max(sigmaS * sigmaS - c * c, 0)) - sigmaS * Math.exp(0.5 * (ls - lt)),
    c,
  };
}

/**
 * Runs DDIM over `grid` (one score evaluation per interval); `x` and `options.logp.initial` are
 * not consumed. The results are kept tensors the caller disposes; `logp` is log p_{grid[last]}
 * of the result.
 */
export function ddim(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  grid: readonly number[],
  rng: Rng,
  options: DdimOptions,
): { x: Tensor; nfe: number; logp?: Tensor } {
  const { eta } = options, track = options.logp;
  if (track && eta !== 0) {
    throw new RangeError(`ddim: log p is tracked only for η = 0 (deterministic), got η = ${eta}`);
  }
  if (grid.length < 2) throw new RangeError(`ddim: a grid needs ≥ 2 times, got ${grid}`);
  const noise = options.noise ?? ((i: number) => rng.derive(i).normal(x.backend, x.shape, x.dtype));
  const D = x.size / x.shape[0];
  let cur = x, ell = track?.initial;
  for (let i = 0; i + 1 < grid.length; i++) {
    const t = grid[i], s = grid[i + 1];
    const { a, b, c } = ddimCoefficients(sde, t, s, eta);
    const next = tidy(() => {
      const { eps, rate } = noiseAndLogpRate(score, sde, cur, t, track?.divergence);
      return noGrad(() => {
        const mean = add(mul(cur, a), mul(eps, b));
        const xs = c === 0 ? mean : add(mean, mul(noise(i), c));
        // Euler on ℓ_y = ℓ_x + D ln α: ℓ_x(s) = ℓ_x(t) + D ln(α_t/α_s) + (ν_s − ν_t)·rate
        const logp = rate && add(
          add(mul(rate, noiseRatio(sde, s) - noiseRatio(sde, t)), ell!),
          D * (Math.log(sde.alpha(t)) - Math.log(sde.alpha(s))),
        );
        return { x: keep(xs), logp: logp && keep(logp) };
      });
    });
    if (cur !== x) cur.dispose();
    if (ell !== track?.initial) ell!.dispose();
    cur = next.x;
    ell = next.logp;
  }
  return { x: cur, nfe: grid.length - 1, logp: ell };
}
