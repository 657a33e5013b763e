/**
 * A variational dequantiser (docs/variational_dequantization.md): the conditional coupling flow
 * q_φ(u | k) of nn/coupling_flow.ts together with the quantisation y = a·k + b of the data it
 * was trained for, and its draws u ~ q(· | k) with their exact log q. Evaluation (eval/) and
 * training (train/) both build on this.
 */

import { add, type Backend, type DType, mul, type Rng, type Tensor } from "../compute/mod.ts";
import {
  type CouplingFlowConfig,
  type CouplingFlowParams,
  couplingFlowSample,
  initCouplingFlow,
} from "./coupling_flow.ts";

/** What a dequantiser file records beside its weights. */
export interface DequantizerConfig {
  flow: CouplingFlowConfig;
  /**
   * The data's levels and y = a·k + b (data/quantization.ts's Quantization): the flow's context
   * is the bin centre, and y needs a and b.
   */
  quantization: { bits: number; a: number; b: number };
  /** how it was trained (reported, not used) */
  training?: Record<string, number | string>;
}

export interface VariationalDequantizer {
  config: DequantizerConfig;
  params: CouplingFlowParams;
}

/** A dequantiser whose flow starts as the identity: uniform dequantisation exactly. */
export function initDequantizer(
  backend: Backend,
  rng: Rng,
  config: DequantizerConfig,
  dtype: DType,
): VariationalDequantizer {
  return { config, params: initCouplingFlow(backend, rng, config.flow, dtype) };
}

/** The flow's context: bin centres a(k + ½) + b in model space, the scale the flow sees. */
export function binCentres(k: Tensor, q: { a: number; b: number }): Tensor {
  return add(mul(k, q.a), q.b + q.a / 2);
}

/**
 * u ~ q(· | k) from the uniforms of `rng` and its exact log q per example (differentiable in
 * the weights: training passes the `params` it differentiates).
 */
export function sampleOffsets(
  d: VariationalDequantizer,
  k: Tensor,
  rng: Rng,
  params: CouplingFlowParams = d.params,
): { u: Tensor; logq: Tensor } {
  const uniforms = rng.uniform(k.backend, k.shape, k.dtype);
  return couplingFlowSample(params, d.config.flow, uniforms, binCentres(k, d.config.quantization));
}
