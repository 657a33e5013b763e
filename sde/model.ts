/**
 * The model interface every downstream piece talks to (DESIGN.md): a trained network or the
 * analytic mixture, seen as a process plus a score function of per-example times. Samplers,
 * likelihood, guidance and evaluation take this, never a module or a file.
 */

import type { Tensor } from "../compute/mod.ts";
import type { Sde } from "./sde.ts";
import type { LowRank } from "./lm/transition.ts";

export type Parameterization = "eps" | "x0" | "score" | "velocity";

export interface DiffusionModel {
  readonly sde: Sde;
  /** Shape of one example, e.g. [2] or [C, H, W]. */
  readonly shape: readonly number[];
  /** ∇ log p_t(x) for x [B, …shape] and per-example times t [B]. */
  score(x: Tensor, t: Tensor): Tensor;
  /** Exact log p_t(x) per example, when the model knows it (analytic mixtures). */
  logp?(x: Tensor, t: Tensor): Tensor;
  /** E[x_0 | x_t], when known in closed form. */
  denoisingMean?(x: Tensor, t: Tensor): Tensor;
  /** C(x_t, t) ≈ Cov[x_0 | x_t] as diagonal plus low rank (a Likelihood-Matching head). */
  denoisingCov?(x: Tensor, t: Tensor): LowRank;
  /**
   * Class-conditional models: the number of classes they know. `withLabel(k)` is the same model
   * with every example's label fixed to k (the score of p_t(x | k)); `withLabel(null)` gives it
   * no label (a zero one-hot), the unconditional model of a network trained with label dropout.
   * Absent on unconditional models.
   */
  readonly classes?: number;
  withLabel?(label: number | null): DiffusionModel;
  /** A description for reports, e.g. "gmm:fixtures/mix2d.json (3 components, D = 2)". */
  readonly description: string;
}
