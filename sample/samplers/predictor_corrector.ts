/**
 * Predictor–corrector sampling (Song et al. 2021, Algorithms 2–3; docs/MATH.md §4): at each grid
 * time t_i, `correctorSteps` Langevin MCMC steps at fixed t_i, then one Euler–Maruyama step of
 * the reverse SDE to t_{i+1} (noise-free on the last step). As in score_sde's
 * `LangevinCorrector` the step size follows a target signal-to-noise ratio r (0.16):
 * ε = 2 α_i (r ‖z‖ / ‖s‖)², from batch-mean norms by default (see `LangevinNorms` for the
 * per-example variant and why it is not the default). α_i = α(t_i)²/α(t_{i+1})², the step's
 * signal-variance ratio, is score_sde's 1 − β_i/N for VP to first order and its 1 for VE; for
 * sub-VP score_sde uses 1 where we keep the ratio (they differ by O(1/N)).
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
 * const grid = uniformTimeGrid(sde.T, sde.tMinSampling, 100);
 * const { x, nfe } = predictorCorrector((x, t) => model.score(x, t), sde, xT, grid, rng);
 * assert.equal(nfe, 200); // a corrector and a predictor step per interval
 * const x1 = (await x.read()).filter((_, i) => i % 2 === 0); // first coordinates
 * assert.ok(Math.abs(mean(x1.map(Math.abs)) - 2) < 0.2); // the blobs sit at x₁ = ±2
 * ```
 */

import {
  add,
  div,
  full,
  keep,
  mean,
  mul,
  noGrad,
  reshape,
  type Rng,
  sqrt,
  square,
  sumPerExample,
  type Tensor,
  tidy,
} from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { perExample } from "../../sde/parameterization.ts";
import { eulerMaruyamaStep } from "./euler_maruyama.ts";

/** score_sde's default target signal-to-noise ratio of the Langevin corrector. */
export const DEFAULT_SNR = 0.16;

export interface PredictorCorrectorOptions {
  /** target signal-to-noise ratio r (default 0.16) */
  snr?: number;
  /** Langevin steps per predictor step (default 1) */
  correctorSteps?: number;
  /** standard normals of predictor step i; default rng.derive("predictor").derive(i) */
  predictorNoise?: (step: number) => Tensor;
  /** standard normals of corrector step j at grid time i; default rng.derive("corrector")… */
  correctorNoise?: (step: number, j: number) => Tensor;
  /** batch (score_sde's, the default) or per-example norms in ε */
  norms?: LangevinNorms;
}

/**
 * How the Langevin step size reads its norms: `batch` is score_sde's rule, ‖z‖ and ‖s‖
 * averaged over the batch, one ε for all; `example` uses each example's own ratio, which makes
 * a sample independent of its batch but is only sound in high dimension, where ‖z‖²/D
 * concentrates: in 2-D and 10-D a score near zero at a mode gives a huge ε and the draws
 * scatter (covariances off by 5–10 standard errors at 4000 draws, where `batch` is within 1).
 */
export type LangevinNorms = "batch" | "example";

/**
 * One Langevin step at fixed t: x + ε s + √(2ε) z with ε = 2α (r‖z‖/‖s‖)² (score_sde's
 * `LangevinCorrector.update_fn`), the norms read per `norms`. Records no tape.
 */
export function langevinCorrectorStep(
  score: ScoreFn,
  x: Tensor,
  t: number,
  alphaRatio: number,
  snr: number,
  z: Tensor,
  norms: LangevinNorms = "batch",
): Tensor {
  return noGrad(() => {
    const s = score(x, full(x.backend, [x.shape[0]], t, x.dtype));
    const c = 2 * alphaRatio * snr ** 2;
    const e = norms === "example"
      ? perExample(mul(div(sumPerExample(square(z)), sumPerExample(square(s))), c), x)
      : reshape(
        mul(
          square(div(mean(sqrt(sumPerExample(square(z)))), mean(sqrt(sumPerExample(square(s)))))),
          c,
        ),
        x.shape.map(() => 1),
      );
    return add(add(x, mul(e, s)), mul(sqrt(mul(e, 2)), z));
  });
}

/** Runs the sampler from grid[0] to grid[last]; `x` is not consumed, the result is kept. */
export function predictorCorrector(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  grid: readonly number[],
  rng: Rng,
  options: PredictorCorrectorOptions = {},
): { x: Tensor; nfe: number } {
  const snr = options.snr ?? DEFAULT_SNR, corrector = options.correctorSteps ?? 1;
  if (!(snr > 0) || !Number.isInteger(corrector) || corrector < 0) {
    throw new RangeError(`predictorCorrector: snr ${snr} must be > 0, steps ${corrector} ≥ 0`);
  }
  const pNoise = options.predictorNoise ??
    ((i: number) => rng.derive("predictor").derive(i).normal(x.backend, x.shape, x.dtype));
  const cNoise = options.correctorNoise ??
    ((i: number, j: number) =>
      rng.derive("corrector").derive(i).derive(j).normal(x.backend, x.shape, x.dtype));
  let cur = x;
  for (let i = 0; i + 1 < grid.length; i++) {
    const t = grid[i], dt = grid[i + 1] - t;
    const alphaRatio = (sde.alpha(t) / sde.alpha(grid[i + 1])) ** 2;
    const next = keep(tidy(() => {
      let y = cur;
      for (let j = 0; j < corrector; j++) {
        y = langevinCorrectorStep(score, y, t, alphaRatio, snr, cNoise(i, j), options.norms);
      }
      const last = i + 2 === grid.length;
      return eulerMaruyamaStep(score, sde, y, t, dt, last ? null : pNoise(i)).x;
    }));
    if (cur !== x) cur.dispose();
    cur = next;
  }
  if (cur === x) cur = keep(noGrad(() => mul(x, 1)));
  return { x: cur, nfe: (grid.length - 1) * (corrector + 1) };
}
