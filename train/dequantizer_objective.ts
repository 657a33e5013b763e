/**
 * The variational dequantiser's training objective (docs/variational_dequantization.md): the
 * negative ELBO −E_q[log p_Y(y) + D ln a − log q(u | k)] of a fixed diffusion model, with
 * log p_Y either exact (analytic mixtures) or replaced by minus a one-draw ScoreFlow bound
 * (docs/MATH.md §2, "The ScoreFlow upper bound") that is differentiable in y, as ScoreFlow does.
 * Only the flow's weights are trained; gradients reach y through the score network.
 */

import {
  add,
  mean,
  mul,
  type Rng,
  square,
  sub,
  sumPerExample,
  type Tensor,
  tensor,
} from "../compute/mod.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { perExample } from "../sde/parameterization.ts";
import type { CouplingFlowParams } from "../nn/coupling_flow.ts";
import { sampleOffsets, type VariationalDequantizer } from "../nn/dequantizer.ts";

/** How log p_Y(y) enters the ELBO. */
export type DequantizerObjective = "exact" | "bound";

/**
 * One importance-sampled (t, z) draw per row of the ScoreFlow upper bound on −log p_{t_min}(y)
 * ([B], nats), differentiable in y: prior term under π, ½Z(‖σ s + z‖² − ‖z‖²) − D ln(α_T/α_min)
 * with λ drawn uniformly in [λ(T), λ(t_min)], and the Gaussian decoder at t_min minus the entropy
 * of N(α_min y, σ_min² I). The same terms as eval/bound.ts for clean data; its expectation over
 * (t, z) is the bound, so its gradient is an unbiased gradient of the bound.
 */
export function scoreFlowBoundDraw(
  model: DiffusionModel,
  y: Tensor,
  tMin: number,
  rng: Rng,
): Tensor {
  const { sde } = model;
  const B = y.shape[0], D = y.size / B, T = sde.T;
  const lamMax = sde.logSnr(tMin), lamMin = sde.logSnr(T), Z = lamMax - lamMin;
  const times = rng.derive("time").uniformHost(B).map((v) => sde.timeOfLogSnr(lamMin + v * Z));
  const col = (v: Float64Array) => perExample(tensor(y.backend, v, [B], y.dtype), y);
  const alpha = col(times.map((t) => sde.alpha(t))), sigma = col(times.map((t) => sde.sigma(t)));
  const z = rng.derive("z").normal(y.backend, y.shape, y.dtype);
  const t = tensor(y.backend, times, [B], y.dtype);
  const xt = add(mul(alpha, y), mul(sigma, z));
  const diffusion = add(
    mul(
      sub(sumPerExample(square(add(mul(sigma, model.score(xt, t)), z))), sumPerExample(square(z))),
      0.5 * Z,
    ),
    -D * Math.log(sde.alpha(T) / sde.alpha(tMin)),
  );
  const aE = sde.alpha(tMin), sE = sde.sigma(tMin);
  const xe = add(mul(y, aE), mul(rng.derive("z-offset").normal(y.backend, y.shape, y.dtype), sE));
  const tE = tensor(y.backend, new Float64Array(B).fill(tMin), [B], y.dtype);
  const decoderMean = mul(add(xe, mul(model.score(xe, tE), sE * sE)), 1 / aE);
  const offset = add(
    mul(sumPerExample(square(sub(y, decoderMean))), (aE * aE) / (2 * sE * sE)),
    (D / 2) * Math.log((2 * Math.PI * sE * sE) / (aE * aE)) -
      (D / 2) * (Math.log(2 * Math.PI) + 2 * Math.log(sE) + 1),
  );
  const s2 = sde.priorStd ** 2, aT = sde.alpha(T), sT = sde.sigma(T);
  const prior = add(
    mul(sumPerExample(square(y)), (aT * aT) / (2 * s2)),
    (D / 2) * Math.log(2 * Math.PI * s2) + (D * sT * sT) / (2 * s2),
  );
  return add(add(prior, diffusion), offset);
}

/**
 * Per-example ELBO terms ℓ = log p_Y(y) + D ln a − log q(u | k) of one draw u ~ q(· | k)
 * ([B], nats); `params` are the flow weights being differentiated.
 */
export function elboDraw(
  model: DiffusionModel,
  d: VariationalDequantizer,
  params: CouplingFlowParams,
  k: Tensor,
  o: { objective: DequantizerObjective; tMin: number; rng: Rng },
): Tensor {
  const q = d.config.quantization, D = k.size / k.shape[0];
  const { u, logq } = sampleOffsets(d, k, o.rng.derive("dequant"), params);
  const y = add(mul(add(k, u), q.a), q.b);
  const logp = o.objective === "exact"
    ? model.logp!(
      y,
      tensor(y.backend, new Float64Array(k.shape[0]).fill(o.tMin), [k.shape[0]], y.dtype),
    )
    : mul(scoreFlowBoundDraw(model, y, o.tMin, o.rng.derive("bound")), -1);
  return sub(add(logp, D * Math.log(q.a)), logq);
}

/** The loss: minus the batch mean of the ELBO draws. */
export function negativeElbo(
  model: DiffusionModel,
  d: VariationalDequantizer,
  params: CouplingFlowParams,
  k: Tensor,
  o: { objective: DequantizerObjective; tMin: number; rng: Rng },
): Tensor {
  return mul(mean(elboDraw(model, d, params, k, o)), -1);
}
