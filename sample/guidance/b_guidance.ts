/**
 * General density guidance with a user schedule b_t (docs/density_guidance.md §1). Of all
 * drifts ũ with d log p_t(x_t)/dt = −∇·u + b_t along the path, the one closest to the PF-ODE's
 * u = f x − ½g²s adds only a multiple of the score: ũ = u + (b_t/‖s‖²) s, since by
 * docs/MATH.md §4 the rate is ∂_t log p + s·ũ = −∇·u + s·(ũ − u). That is the score-scaled
 * flow dx = [f x − ½g²η s] dt with η = 1 − 2b_t/(g²‖s‖²), i.e. density guidance's η = 1 +
 * k/(σ²‖s‖²) with a time-dependent strength k_t = −2b_tσ_t²/g_t². The quantile rule is the
 * special case b_t = −½k g²/σ² = ½k dλ/dt. Against the PF-ODE from the same latent, log p_0
 * then moves by ∫_T^{t_min} b_t dt — exactly for Gaussian data, whose ∇·u does not depend on x.
 *
 * Like `--q`, the flow starts from x_T rescaled to the median norm and uses the same clamp
 * near a mode (`density.ts`): a rise beyond the mode is approached, never passed, and the nats
 * withheld are reported.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng, type Tensor } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * import { expressionSchedule } from "./b_schedule.ts";
 * import { priorGuidanceSample } from "./prior.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * const model = GmmModel.isotropic({ weights: [1], means: [[0, 0, 0, 0]], stds: [0.5] }, sde);
 * const xT = priorSample(sde, rng, backend, [4, 4], "f64");
 * const score = (x: Tensor, t: Tensor) => model.score(x, t);
 * const o = {
 *   tMin: sde.tMinSampling, rtol: 1e-6, atol: 1e-6, divergence: { method: "exact" },
 * } as const;
 * const schedule = expressionSchedule("3*t"); // lowers log p_0 by about 1.5 nats
 * const r = await bScheduleSample(score, sde, xT, { ...o, schedule });
 * const pf = await priorGuidanceSample(score, sde, xT, { ...o, q: 0.5 }); // the PF-ODE, same start
 * const predicted = schedule.predictedShift(o.tMin, sde.T);
 * assert.ok(r.logp.every((l, i) => Math.abs(l - pf.logp[i] - predicted) < 1e-3));
 * ```
 */

import { div, mul, type Tensor, tidy } from "../../compute/mod.ts";
import { knownOnHost, uploadPerExample } from "../../sde/host_times.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import { solveOde } from "../../sde/ode/solve.ts";
import { DORMAND_PRINCE } from "../../sde/ode/tableaus.ts";
import type { Sde } from "../../sde/sde.ts";
import { flowCoefs, type FlowOptions, scaledFlowRates } from "../flow/scaled.ts";
import { scoreTerms } from "../flow/score_terms.ts";
import { type FlowResult, runSegments } from "../flow/segments.ts";
import type { BSchedule } from "./b_schedule.ts";
import { clampedEta } from "./density.ts";
import { latentRadius, rescaleToNorm } from "./latents.ts";

export interface BScheduleOptions extends FlowOptions {
  schedule: BSchedule;
  tMin: number;
  /** log-density at T; default the process's prior π */
  terminalLogp?: (xT: Tensor) => Tensor;
}

/** b_t at the per-example times t [B] (host values: the ODE solver uploads its times so). */
export function scheduleAt(schedule: BSchedule, t: Tensor): Tensor {
  const host = knownOnHost(t);
  if (!host) throw new Error("bScheduleSample: the solver's times must be known on the host");
  return uploadPerExample(t, host, schedule.at);
}

/** x_T (not consumed) rescaled to the median norm, then the b_t-guided ODE down to t_min. */
export async function bScheduleSample(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  o: BScheduleOptions,
): Promise<FlowResult> {
  const D = xT.size / xT.shape[0];
  const start = tidy(() => rescaleToNorm(xT, latentRadius(sde, D, 0.5)));
  try {
    return await runSegments(sde, start, [
      (y) =>
        solveOde(
          (t, [x]) => {
            const terms = scoreTerms(score, x, t, o.divergence, true);
            const c = flowCoefs(sde, t);
            // k_t = −2b_tσ_t²/g_t²: η = 1 + k_t/(σ²‖s‖²) = 1 − 2b_t/(g²‖s‖²), clamped as for --q
            const k = mul(div(mul(scheduleAt(o.schedule, t), c.sigma2), c.g2), -2);
            const { eta, target } = clampedEta(k, terms, c);
            const r = scaledFlowRates(x, terms, c, eta, target);
            return [r.dx, r.dEll, r.dW];
          },
          y,
          sde.T,
          o.tMin,
          { tableau: DORMAND_PRINCE, rtol: o.rtol, atol: o.atol, fixedSteps: o.fixedSteps },
        ),
    ], o.terminalLogp);
  } finally {
    start.dispose();
  }
}
