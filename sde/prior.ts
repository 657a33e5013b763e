/** The isotropic Gaussian prior π = N(0, s² I) of every process, on the device. */

import {
  type Backend,
  type DType,
  mul,
  type Rng,
  square,
  sub,
  sumPerExample,
  type Tensor,
} from "../compute/mod.ts";
import type { Sde } from "./sde.ts";

/** log π(x) per example, x: [B, …]. */
export function priorLogp(sde: Sde, x: Tensor): Tensor {
  const D = x.size / x.shape[0];
  const s2 = sde.priorStd ** 2;
  return sub(mul(sumPerExample(square(x)), -0.5 / s2), (D / 2) * Math.log(2 * Math.PI * s2));
}

/** Draws x_T ~ π of the given shape. */
export function priorSample(
  sde: Sde,
  rng: Rng,
  backend: Backend,
  shape: number[],
  dtype: DType = "f32",
): Tensor {
  return mul(rng.normal(backend, shape, dtype), sde.priorStd);
}
