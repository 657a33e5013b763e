/** A dense layer y = x W + b over the last axis. */

import { type Backend, type DType, matmulBias, type Rng, type Tensor } from "../compute/mod.ts";
import { uniformFanIn } from "./init.ts";

export interface LinearParams {
  [k: string]: Tensor;
  w: Tensor;
  b: Tensor;
}

export function initLinear(
  backend: Backend,
  rng: Rng,
  inDim: number,
  outDim: number,
  dtype: DType,
): LinearParams {
  return {
    w: uniformFanIn(backend, rng.derive("w"), [inDim, outDim], inDim, dtype),
    b: uniformFanIn(backend, rng.derive("b"), [outDim], inDim, dtype),
  };
}

/** x: [B, in] → [B, out]; the bias is added as the product is stored (one kernel). */
export function linear(p: LinearParams, x: Tensor): Tensor {
  return matmulBias(x, p.w, p.b);
}
