/**
 * The report of `guidance --optimize-latent` (docs/density_guidance.md §2): the settings, the
 * per-iteration mean log p_0 and ‖x_T‖/(σ_T√D) (and the per-example values of each), and a
 * few lines for a person — the first, every tenth and the last iteration.
 */

import type { LatentOptimizationResult } from "./latent_optimization.ts";

/** Defaults of the mode's flags. */
export const LATENT_DEFAULTS = { iters: 100, lr: 0.1, priorWeight: 1, steps: 16 } as const;

export interface LatentSettings {
  targetLogp: number;
  iters: number;
  lr: number;
  priorWeight: number;
  steps: number;
}

const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;

/** The JSON fields and the human lines for a run's batches. */
export function latentReport(
  results: LatentOptimizationResult[],
  s: LatentSettings,
): { fields: Record<string, unknown>; lines: string[] } {
  const iterations = results[0].history.map((_, i) => {
    const logp = results.flatMap((r) => Array.from(r.history[i].logp));
    const norm = results.flatMap((r) => Array.from(r.history[i].normRatio));
    const objective = results.flatMap((r) => Array.from(r.history[i].objective));
    return {
      iter: i,
      logp_mean: mean(logp),
      norm_ratio_mean: mean(norm),
      objective_mean: mean(objective),
      logp_nats: logp,
      norm_ratio: norm,
    };
  });
  const first = iterations[0], last = iterations[iterations.length - 1];
  const fields = {
    mode: "optimize-latent",
    target_logp: s.targetLogp,
    iters: s.iters,
    lr: s.lr,
    lr_schedule: "half cosine from lr to 0",
    optimizer: "adam on z = x_T/sigma_T",
    prior_weight: s.priorWeight,
    objective: "0.5 (log p_0 - V)^2 + lambda (|z| - sqrt(D))^2",
    ode_steps: s.steps,
    ode_solver: "fixed-step dopri5, backpropagated",
    logp_by: results[0].logpBy,
    norm_ratio_final: results.flatMap((r) => Array.from(r.history[r.history.length - 1].normRatio)),
    iterations,
  };
  const line = (it: typeof first) =>
    `  iter ${String(it.iter).padStart(4)}: mean log p_0 ${it.logp_mean.toFixed(4)} nats, ` +
    `mean ‖x_T‖/(σ_T√D) ${it.norm_ratio_mean.toFixed(4)}, mean objective ${
      it.objective_mean.toPrecision(5)
    }`;
  const lines = [
    `latent optimisation towards log p_0 = ${s.targetLogp} (λ = ${s.priorWeight}, ${s.iters} ` +
    `Adam steps from lr ${s.lr}, ${s.steps} DP5 steps per solve, log p_0 by ${
      results[0].logpBy === "closed-form" ? "the model's closed form" : "the PF-ODE likelihood"
    }):`,
    ...iterations.filter((it) => it.iter % 10 === 0 || it === last).map(line),
    `mean log p_0 ${first.logp_mean.toFixed(4)} → ${last.logp_mean.toFixed(4)} nats, ` +
    `‖x_T‖/(σ_T√D) ${first.norm_ratio_mean.toFixed(4)} → ${last.norm_ratio_mean.toFixed(4)}`,
  ];
  return { fields, lines };
}
