/**
 * Sampling by the probability-flow ODE dx/dt = u = f(t)x − ½g(t)²s(x, t) (docs/MATH.md §1), from
 * grid[0] (usually T) to grid[last] (t_min) — or the other way, to encode data into latents.
 * `dopri5` steps adaptively per example between the two ends (docs/MATH.md §2's controller, one
 * readback of error norms per step); `heun` and `euler` take one fixed step per grid interval
 * with no readback. With `logp` the state is augmented to {x, ℓ} with dℓ/dt = −∇·u (docs/MATH.md
 * §4: the continuity equation along the flow), so ℓ at the end is log p of the result given
 * ℓ = log p at the start; the augmented ℓ takes part in step control as in eval-nll.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { full, referenceBackend, Rng } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { priorLogp, priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // two Gaussian blobs whose exact score stands in for a trained network
 * const model = GmmModel.isotropic(
 *   { weights: [0.5, 0.5], means: [[-2, 0], [2, 0]], stds: [0.5, 0.5] },
 *   sde,
 * );
 * const xT = priorSample(sde, rng.derive("prior"), backend, [64, 2], "f64");
 * const r = await pfOdeSample((x, t) => model.score(x, t), sde, xT, [sde.T, sde.tMinSampling], {
 *   method: "dopri5",
 *   logp: { initial: priorLogp(sde, xT), divergence: { method: "exact" } },
 * }); // r.logp: log p_{t_min}(r.x) under the model, per example
 * const exact = await model.logp(r.x, full(backend, [64], sde.tMinSampling, "f64")).read();
 * const tracked = await r.logp!.read();
 * // the model's own log-density, up to the tolerances and π's mismatch with p_T
 * assert.ok(tracked.every((l, i) => Math.abs(l - exact[i]) < 1e-3));
 * ```
 */

import {
  divergence,
  type DivergenceMethod,
  neg,
  noGrad,
  stopGradient,
  type Tensor,
} from "../../compute/mod.ts";
import { pfOdeDrift, type ScoreFn } from "../../sde/likelihood.ts";
import { type OdeFn, solveOde } from "../../sde/ode/solve.ts";
import { type ButcherTableau, DORMAND_PRINCE, EULER, HEUN } from "../../sde/ode/tableaus.ts";
import type { Sde } from "../../sde/sde.ts";

export type OdeMethod = "dopri5" | "heun" | "euler";

const FIXED: Record<Exclude<OdeMethod, "dopri5">, ButcherTableau> = { heun: HEUN, euler: EULER };

export interface PfOdeSampleOptions {
  method: OdeMethod;
  /** Dormand–Prince tolerances (default 1e-5 each, docs/MATH.md §2); dopri5 only */
  rtol?: number;
  atol?: number;
  /** log p at grid[0] per example ([B]) and the divergence of u (a fixed probe per solve) */
  logp?: { initial: Tensor; divergence: DivergenceMethod };
}

export interface PfOdeSampleResult {
  /** x at grid[last]; a fresh tensor the caller disposes */
  x: Tensor;
  /** ℓ at grid[last] ([B]), with `options.logp` */
  logp?: Tensor;
  /** calls of the drift for the whole batch */
  nfe: number;
  /** drift calls while example b was still integrating (its NFE had it been solved alone) */
  nfePerExample: Int32Array;
  /** accepted steps per example (fixed-step methods: the grid's interval count) */
  stepsPerExample: Int32Array;
}

/** The augmented dynamics (u, −∇·u) on {x, ℓ}, or u alone on {x}. Outputs carry no tape. */
export function pfOdeDynamics(score: ScoreFn, sde: Sde, how?: DivergenceMethod): OdeFn {
  const drift = pfOdeDrift(score, sde);
  if (!how) return (t, [x]) => [noGrad(() => drift(x, t))];
  return (t, [x]) => {
    const { value, div } = divergence((y) => drift(y, t), x, how);
    return [stopGradient(value), stopGradient(neg(div))];
  };
}

/** Integrates the PF-ODE over `grid` (see the file comment); `x` and `logp.initial` are kept. */
export async function pfOdeSample(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  grid: readonly number[],
  options: PfOdeSampleOptions,
): Promise<PfOdeSampleResult> {
  if (grid.length < 2) throw new RangeError(`pfOdeSample: a grid needs ≥ 2 times, got ${grid}`);
  const f = pfOdeDynamics(score, sde, options.logp?.divergence);
  const y0 = options.logp ? [x, options.logp.initial] : [x];
  const B = x.shape[0];
  const result = (y: Tensor[], nfe: number, perExample: Int32Array, steps: Int32Array) => ({
    x: y[0],
    logp: y[1],
    nfe,
    nfePerExample: perExample,
    stepsPerExample: steps,
  });
  if (options.method === "dopri5") {
    if (grid.length !== 2) {
      throw new RangeError("pfOdeSample: dopri5 chooses its own steps; give the grid [from, to]");
    }
    const sol = await solveOde(f, y0, grid[0], grid[1], {
      tableau: DORMAND_PRINCE,
      rtol: options.rtol ?? 1e-5,
      atol: options.atol ?? 1e-5,
    });
    return result(sol.y, sol.nfe, sol.nfePerExample, sol.acceptedPerExample);
  }
  const tableau = FIXED[options.method];
  if (!tableau) throw new RangeError(`pfOdeSample: unknown method ${options.method}`);
  // One fixed step per interval, so any grid (uniform or not) is followed exactly.
  let y = y0, nfe = 0;
  for (let i = 0; i + 1 < grid.length; i++) {
    const sol = await solveOde(f, y, grid[i], grid[i + 1], { tableau, fixedSteps: 1 });
    if (y !== y0) y.forEach((v) => v.dispose());
    y = sol.y;
    nfe += sol.nfe;
  }
  return result(y, nfe, new Int32Array(B).fill(nfe), new Int32Array(B).fill(grid.length - 1));
}
