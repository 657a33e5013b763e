/**
 * One batch of the `sample` command: draws x_T ~ π = N(0, σ_T² I), runs the chosen sampler
 * from T to t_min and, when asked, tracks log p along the way (docs/MATH.md §4), starting from
 * log π(x_T) or, for analytic models, the model's own log p_T. Every random draw — latents,
 * Brownian increments, Langevin noise, Hutchinson probes — is keyed by the sample's global
 * index, so a sample is the same whatever the batch size (except under pc's default batch-mean
 * Langevin step size, score_sde's rule, which couples a batch's samples). One readback per batch (plus one
 * per Dormand–Prince step).
 */

import {
  type Backend,
  type DivergenceMethod,
  type DType,
  mul,
  noGrad,
  type Rng,
  sizeOf,
  type Tensor,
  tensor,
  tidy,
} from "../compute/mod.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { priorLogp } from "../sde/prior.ts";
import { eulerMaruyama, uniformTimeGrid } from "./samplers/euler_maruyama.ts";
import { type LangevinNorms, predictorCorrector } from "./samplers/predictor_corrector.ts";
import { pfOdeSample } from "./samplers/ode.ts";
import { lmSample } from "./samplers/lm.ts";
import { ddim } from "./samplers/ddim.ts";
import { type EdmChurn, edmHeun, edmLevels } from "./samplers/edm_heun.ts";
import { logSnrGrid } from "../sde/log_snr_grid.ts";

export type SamplerSpec =
  | { kind: "em"; steps: number }
  | { kind: "pc"; steps: number; snr: number; correctorSteps: number; norms: LangevinNorms }
  | { kind: "ode"; rtol: number; atol: number }
  | { kind: "heun" | "euler"; steps: number }
  | { kind: "ddim"; steps: number; eta: number }
  | { kind: "edm"; steps: number; churn?: Omit<EdmChurn, "noise"> }
  | { kind: "lm"; steps: number };

export interface TrackSpec {
  divergence: "exact" | "hutchinson";
  probe: "rademacher" | "gaussian";
  /** log p at T: the process's prior π, or the analytic model's own p_T */
  prior: "standard" | "exact";
}

export interface BatchOptions {
  sampler: SamplerSpec;
  tMin: number;
  track?: TrackSpec;
  rng: Rng;
  backend: Backend;
  dtype: DType;
}

export interface BatchResult {
  /** samples at t_min, row-major */
  x: Float64Array;
  /** log p_{t_min} of each sample (nats), with tracking */
  logp?: Float64Array;
  /** function evaluations each sample needed */
  nfe: Int32Array;
  /** accepted steps each sample took */
  steps: Int32Array;
}

/** Samples `nb` examples with global indices first, first + 1, …. */
export async function sampleBatch(
  model: DiffusionModel,
  o: BatchOptions,
  first: number,
  nb: number,
): Promise<BatchResult> {
  const { sde } = model, { sampler, track, backend, dtype } = o;
  const shape = [nb, ...model.shape];
  const D = sizeOf(model.shape);
  const keyed = (r: Rng) => r.at(first * D);
  const perSample = (v: number) => new Int32Array(nb).fill(v);
  const score = (x: Tensor, t: Tensor) => model.score(x, t);
  // tidy: the draws and intermediates behind x_T and log p(x_T) are freed at once
  const xT = tidy(() =>
    noGrad(() => mul(keyed(o.rng.derive("prior")).normal(backend, shape, dtype), sde.priorStd))
  );
  const owned: Tensor[] = [xT];
  try {
    let how: DivergenceMethod | undefined, initial: Tensor | undefined;
    if (track) {
      const probeRng = keyed(o.rng.derive("probe"));
      if (track.divergence === "exact") how = { method: "exact" };
      else {
        const probe = track.probe === "gaussian"
          ? probeRng.normal(backend, shape, dtype)
          : probeRng.rademacher(backend, shape, dtype);
        owned.push(probe);
        how = { method: "hutchinson", probe };
      }
      initial = tidy(() =>
        noGrad(() =>
          track.prior === "exact"
            ? model.logp!(xT, tensor(backend, new Float64Array(nb).fill(sde.T), [nb], dtype))
            : priorLogp(sde, xT)
        )
      );
      owned.push(initial);
    }
    const logp = how && initial ? { initial, divergence: how } : undefined;
    const noise = (i: number) =>
      keyed(o.rng.derive("noise").derive(i)).normal(backend, shape, dtype);
    let x: Tensor, ell: Tensor | undefined, nfe: Int32Array, steps: Int32Array;
    if (sampler.kind === "em") {
      const grid = uniformTimeGrid(sde.T, o.tMin, sampler.steps);
      const r = eulerMaruyama(score, sde, xT, grid, o.rng, { noise, logp });
      [x, ell, nfe, steps] = [r.x, r.logp, perSample(r.nfe), perSample(sampler.steps)];
    } else if (sampler.kind === "ddim") {
      // log p is tracked only for η = 0 (a stochastic η is refused in cli/sample_run.ts)
      const grid = uniformTimeGrid(sde.T, o.tMin, sampler.steps);
      const r = ddim(score, sde, xT, grid, o.rng, { eta: sampler.eta, noise, logp });
      [x, ell, nfe, steps] = [r.x, r.logp, perSample(r.nfe), perSample(sampler.steps)];
    } else if (sampler.kind === "edm") {
      const levels = edmLevels(sde, sde.T, o.tMin, sampler.steps);
      // churn's noise is keyed like the other samplers' (no tracking with it: cli/sample_run.ts)
      const churn = sampler.churn && { ...sampler.churn, noise };
      const r = edmHeun(score, sde, xT, levels, { logp, churn });
      [x, ell, nfe, steps] = [r.x, r.logp, perSample(r.nfe), perSample(sampler.steps)];
    } else if (sampler.kind === "lm") {
      // Likelihood Matching's chain on a log-SNR grid (no tracking: refused in cli/sample_run.ts);
      // it positions each step's streams at this batch's first example itself
      const grid = logSnrGrid(sde, sde.T, o.tMin, sampler.steps);
      const r = lmSample(model, sde, xT, grid, o.rng.derive("lm"), first);
      [x, nfe, steps] = [r.x, perSample(r.nfe), perSample(sampler.steps)];
    } else if (sampler.kind === "pc") {
      // no log-density tracking: the command refuses --track-logp with pc (see cli/sample_run.ts)
      const grid = uniformTimeGrid(sde.T, o.tMin, sampler.steps);
      const r = predictorCorrector(score, sde, xT, grid, o.rng, {
        snr: sampler.snr,
        correctorSteps: sampler.correctorSteps,
        norms: sampler.norms,
        predictorNoise: noise,
        correctorNoise: (i, j) =>
          keyed(o.rng.derive("corrector").derive(i).derive(j)).normal(backend, shape, dtype),
      });
      [x, nfe, steps] = [r.x, perSample(r.nfe), perSample(sampler.steps)];
    } else {
      const r = sampler.kind === "ode"
        ? await pfOdeSample(score, sde, xT, [sde.T, o.tMin], {
          method: "dopri5",
          rtol: sampler.rtol,
          atol: sampler.atol,
          logp,
        })
        : await pfOdeSample(score, sde, xT, uniformTimeGrid(sde.T, o.tMin, sampler.steps), {
          method: sampler.kind,
          logp,
        });
      [x, ell, nfe, steps] = [r.x, r.logp, r.nfePerExample, r.stepsPerExample];
    }
    owned.push(x);
    if (ell) owned.push(ell);
    const [xs, ls] = await Promise.all([x.read(), ell?.read()]);
    return {
      x: Float64Array.from(xs),
      logp: ls && Float64Array.from(ls),
      nfe,
      steps,
    };
  } finally {
    for (const t of owned) t.dispose();
  }
}
