/** Parameter initialisers; randomness comes from an explicit `Rng` (STYLE 13). */

import {
  type Backend,
  type DType,
  keep,
  mul,
  noGrad,
  type Rng,
  sub,
  type Tensor,
} from "../compute/mod.ts";

/** U(−1/√fanIn, 1/√fanIn), the default of common deep-learning libraries for linear layers. */
export function uniformFanIn(
  backend: Backend,
  rng: Rng,
  shape: number[],
  fanIn: number,
  dtype: DType,
): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return keep(noGrad(() => mul(sub(mul(rng.uniform(backend, shape, dtype), 2), 1), bound)));
}
