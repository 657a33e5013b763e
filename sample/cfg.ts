/**
 * Classifier-free guidance (Ho & Salimans 2022) as a model: from a class-conditional model's
 * conditional score s_k = ∇log p_t(x | k) (`withLabel(k)`) and unconditional score
 * s = ∇log p_t(x) (`withLabel(null)`), the guided field
 *
 *   s̃ = (1 + w)·s_k − w·s  =  s + γ·(s_k − s),   γ = 1 + w,
 *
 * where w = 0 (γ = 1) is the conditional model, w = −1 (γ = 0) the unconditional one and w > 0
 * (γ > 1) pushes past the conditional, away from the unconditional. Every sampler, guidance
 * mode and likelihood computation takes the result as it takes any model; the density that
 * log p tracking then reports is that of the PF-ODE of s̃ started from the prior (see
 * docs/cfg.md): for w ∉ {0, −1} it is not p(x | k) nor the tilted p(x | k)^{1+w} p(x)^{−w}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, tensor } from "../compute/mod.ts";
 * import { GmmModel } from "../data/gmm_model.ts";
 * import { VpSde } from "../sde/vp.ts";
 * const mixture = new GmmModel({
 *   source: "two classes",
 *   weights: [0.5, 0.5],
 *   means: [[-2], [2]],
 *   stds: [1, 1],
 *   shape: [1],
 *   classes: [0, 1],
 * }, new VpSde());
 * const guided = classifierFreeGuidance(mixture, 1, { w: 2 });
 * const be = referenceBackend();
 * const x = tensor(be, [0.5], [1, 1], "f64"), t = tensor(be, [0.3], [1], "f64");
 * const [sk] = await mixture.withLabel!(1).score(x, t).read();
 * const [s] = await mixture.score(x, t).read();
 * const [g] = await guided.score(x, t).read();
 * assert.ok(Math.abs(g - (3 * sk - 2 * s)) < 1e-12);
 * ```
 */

import { add, mul, sub, type Tensor } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import type { DiffusionModel } from "../sde/model.ts";

/** The guidance strength in either form: w (s̃ = (1 + w)s_k − w s) or γ = 1 + w. */
export type CfgStrength = { w: number } | { gamma: number };

/** γ of either form. */
export function cfgGamma(strength: CfgStrength): number {
  return "gamma" in strength ? strength.gamma : 1 + strength.w;
}

/**
 * The model whose score is s + γ(s_k − s) for class `label` of a class-conditional `model`.
 * Both scores are evaluated at every call, whatever γ (γ = 1 without guidance is just
 * `model.withLabel(label)`). Throws a UsageError for an unconditional model or a class it does
 * not know.
 */
export function classifierFreeGuidance(
  model: DiffusionModel,
  label: number,
  strength: CfgStrength,
): DiffusionModel {
  if (!model.withLabel || model.classes === undefined) {
    throw new UsageError(
      `classifier-free guidance needs a class-conditional model; ${model.description} is not`,
    );
  }
  const gamma = cfgGamma(strength);
  if (!Number.isFinite(gamma)) throw new RangeError(`classifierFreeGuidance: γ = ${gamma}`);
  const conditional = model.withLabel(label), unconditional = model.withLabel(null);
  const denoiser = conditional.denoisingMean && unconditional.denoisingMean
    ? {
      denoisingMean: (x: Tensor, t: Tensor) =>
        blend(unconditional.denoisingMean!(x, t), conditional.denoisingMean!(x, t), gamma),
    }
    : {};
  return {
    sde: model.sde,
    shape: model.shape,
    description: `${model.description}, classifier-free guidance to class ${label} (w = ${
      gamma - 1
    }, γ = ${gamma})`,
    score: (x, t) => blend(unconditional.score(x, t), conditional.score(x, t), gamma),
    // E[x_0 | x_t] is affine in the score (Tweedie), so the guided field's is the same blend
    ...denoiser,
  };
}

/** a + γ(b − a). */
function blend(a: Tensor, b: Tensor, gamma: number): Tensor {
  return add(a, mul(sub(b, a), gamma));
}
