/**
 * Denoising score matching (Song et al. 2021; docs/MATH.md §3.1–3.2), per example
 * ½ λ(t)‖s(x_t, t) + z/σ_t‖² = ½ (λ/σ²)‖σ s + z‖² with λ = σ² (`simple`) or g² (`likelihood`,
 * ScoreFlow); with importance sampling (uniform in λ) the likelihood-weighted loss becomes
 * ½ Z ‖σ s + z‖². All keep the bound's ½ so logged losses of different objectives compare.
 */

import {
  add,
  mean,
  mul,
  square,
  sub,
  sumPerExample,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import type { NetworkParams } from "../../nn/network.ts";
import type { Parameterization } from "../../sde/model.ts";
import { perExample, scoreFromPrediction } from "../../sde/parameterization.ts";
import type { Sde } from "../../sde/sde.ts";
import { logSnrUniformTimes, uniformTimes } from "../time_sampling.ts";
import type { Objective } from "./objective.ts";

export type Weighting = "simple" | "likelihood";

/** The network: x_t [B, …] and t [B] → its native prediction. */
export type Network = (x: Tensor, t: Tensor) => Tensor;

export interface DsmBatch {
  x0: Tensor;
  z: Tensor;
  /** host times in float64, uploaded with the batch */
  t: Float64Array;
  /** the importance-sampling normaliser, when times were drawn uniform in λ */
  Z?: number;
}

export interface DsmParts {
  loss: Tensor;
}

/** Per-example DSM loss ([B]) with named parts. */
export function dsmLoss(
  net: Network,
  param: Parameterization,
  sde: Sde,
  weighting: Weighting,
  batch: DsmBatch,
): DsmParts {
  const { x0, z } = batch;
  const t = tensor(x0.backend, batch.t, [batch.t.length], x0.dtype);
  const m = sde.alphaSigmaT(t);
  const xt = add(mul(perExample(m.alpha, x0), x0), mul(perExample(m.sigma, z), z));
  const prediction = net(xt, t);
  // σ s + z; for ε-prediction that is z − ε̂ exactly, without dividing by a tiny σ
  const r = param === "eps"
    ? sub(z, prediction)
    : add(mul(perExample(m.sigma, z), scoreFromPrediction(param, prediction, xt, m)), z);
  const sq = sumPerExample(square(r));
  if (batch.Z !== undefined) return { loss: mul(sq, 0.5 * batch.Z) };
  if (weighting === "simple") return { loss: mul(sq, 0.5) };
  // λ/σ² = g²/σ² = −dλ/dt per example, from the host
  const w = batch.t.map((ti) => 0.5 * sde.diffusion2(ti) / sde.sigma(ti) ** 2);
  return { loss: mul(sq, tensor(x0.backend, w, [w.length], x0.dtype)) };
}

/**
 * The step's DSM loss: noise from the stream's "noise", times uniform in t or, with
 * `--time-sampling importance`, uniform in λ with the importance normaliser Z.
 */
export const dsmObjective: Objective = ({ x0, stream, sde, config: c, net }) => {
  const B = x0.shape[0];
  const z = stream.derive("noise").normal(x0.backend, x0.shape, x0.dtype);
  const times = c.timeSampling === "importance"
    ? logSnrUniformTimes(stream.derive("time"), B, sde, c.tMin)
    : { t: uniformTimes(stream.derive("time"), B, sde, c.tMin), Z: undefined };
  return (p) =>
    mean(dsmLoss(net(p as NetworkParams), c.param, sde, c.weighting, { x0, z, ...times }).loss);
};
