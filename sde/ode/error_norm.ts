/** The error norm of docs/MATH.md §2 (Hairer, Nørsett & Wanner, Solving ODEs I, §II.4). */

import {
  abs,
  add,
  div,
  maximum,
  mul,
  square,
  sumPerExample,
  type Tensor,
} from "../../compute/mod.ts";

/**
 * Per-example mean over every element of every state component of
 * (e / (atol + rtol·max(|ya|, |yb|)))², shape [B]: the square of the RMS error norm, so that
 * the host takes the square root in float64 after the one readback of a step.
 */
export function errorMeanSquare(
  e: Tensor[],
  ya: Tensor[],
  yb: Tensor[],
  rtol: number,
  atol: number,
): Tensor {
  let total: Tensor | null = null, n = 0;
  e.forEach((ec, c) => {
    const scale = add(mul(maximum(abs(ya[c]), abs(yb[c])), rtol), atol);
    const part = sumPerExample(square(div(ec, scale)));
    total = total === null ? part : add(total, part);
    n += ec.size / ec.shape[0];
  });
  return mul(total!, 1 / n);
}

/**
 * Reads mean squares back as float64 RMS norms and frees them. Reading outside any scope keeps
 * no async tidy open across the await, so concurrent solves cannot interleave scopes.
 */
export async function readNorms(ms: Tensor[]): Promise<Float64Array[]> {
  try {
    return (await Promise.all(ms.map((m) => m.read()))).map((v) => Float64Array.from(v, Math.sqrt));
  } finally {
    ms.forEach((m) => m.dispose());
  }
}
