/**
 * i-DODE's velocity objective (Zheng et al. 2023; docs/MATH.md §3.3–3.4) on the VDM linear-γ
 * process: target F* = α ε − σ x0, times with density ∝ α² over γ (antithetic pairs), per
 * example ½ Z ‖F* − F̂‖²; with `highOrder` w > 0 the second-order term
 * ½ Z w [σ ∇·F̂ − α(D − sg(‖F* − F̂‖²))]² / D is added, its divergence by one Rademacher
 * probe: minimising it differentiates through a divergence.
 */

import {
  add,
  divergence,
  mean,
  mul,
  reshape,
  square,
  stopGradient,
  sub,
  sumPerExample,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { perExample, velocityFromEpsX0 } from "../../sde/parameterization.ts";
import type { Sde } from "../../sde/sde.ts";
import type { NetworkParams } from "../../nn/network.ts";
import { velocityImportanceTimes } from "../time_sampling.ts";
import { spImportanceTimes } from "../../sde/sp.ts";
import type { Network } from "./dsm.ts";
import type { Objective } from "./objective.ts";

export interface FlowBatch {
  x0: Tensor;
  z: Tensor;
  t: Float64Array;
  Z: number;
  /** Rademacher probe, needed when the high-order weight is positive */
  probe?: Tensor;
  /** per-example factors of the first-order term (the straight path's 1/(α² + σ²)²) */
  weights?: Float64Array;
}

export interface FlowParts {
  loss: Tensor;
  firstOrder: Tensor;
  secondOrder: Tensor | null;
  /** σ ∇·F̂ − α(D − ‖F* − F̂‖²): zero in conditional expectation for the exact velocity */
  residual: Tensor | null;
}

export function flowLoss(net: Network, sde: Sde, highOrder: number, batch: FlowBatch): FlowParts {
  const { x0, z } = batch;
  const B = x0.shape[0], D = x0.size / B;
  const t = tensor(x0.backend, batch.t, [B], x0.dtype);
  const m = sde.alphaSigmaT(t);
  const xt = add(mul(perExample(m.alpha, x0), x0), mul(perExample(m.sigma, z), z));
  const target = velocityFromEpsX0(z, x0, m);
  if (highOrder <= 0) {
    const err2 = sumPerExample(square(sub(target, net(xt, t))));
    const firstOrder = batch.weights
      ? mul(err2, tensor(x0.backend, batch.weights.map((w) => 0.5 * batch.Z * w), [B], x0.dtype))
      : mul(err2, 0.5 * batch.Z);
    return { loss: firstOrder, firstOrder, secondOrder: null, residual: null };
  }
  if (batch.weights) throw new Error("flowLoss: per-example weights are first-order only");
  if (!batch.probe) throw new Error("flowLoss: the high-order term needs a probe");
  const { value, div } = divergence((y) => net(y, t), xt, {
    method: "hutchinson",
    probe: batch.probe,
  });
  const err2 = sumPerExample(square(sub(target, value)));
  const firstOrder = mul(err2, 0.5 * batch.Z);
  const residual = sub(
    mul(reshape(m.sigma, [B]), div),
    mul(reshape(m.alpha, [B]), sub(D, stopGradient(err2))),
  );
  const secondOrder = mul(square(residual), (0.5 * batch.Z * highOrder) / D);
  return { loss: add(firstOrder, secondOrder), firstOrder, secondOrder, residual };
}

/**
 * The step's velocity loss: noise from the stream's "noise", γ-importance times with their
 * antithetic pairs, and a Rademacher probe when the high-order weight is positive.
 */
export const flowObjective: Objective = ({ x0, stream, sde, config: c, net }) => {
  const { gammaMin, gammaMax } = c.sde.params as { gammaMin: number; gammaMax: number };
  const z = stream.derive("noise").normal(x0.backend, x0.shape, x0.dtype);
  // VDM-γ and the straight path both draw t with density ∝ α² over γ; on the straight path
  // α² + σ² < 1 and the bound weighs the velocity error by 1/(α² + σ²)² (docs/idode.md)
  const straight = c.sde.kind === "sp";
  const { t, Z } = (straight ? spImportanceTimes : velocityImportanceTimes)(
    stream.derive("time"),
    x0.shape[0],
    gammaMin,
    gammaMax,
  );
  const weights = straight
    ? t.map((ti) => 1 / (sde.alpha(ti) ** 2 + sde.sigma(ti) ** 2) ** 2)
    : undefined;
  const probe = c.highOrder > 0
    ? stream.derive("probe").rademacher(x0.backend, x0.shape, x0.dtype)
    : undefined;
  return (p) =>
    mean(flowLoss(net(p as NetworkParams), sde, c.highOrder, { x0, z, t, Z, probe, weights }).loss);
};
