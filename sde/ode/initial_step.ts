/**
 * Starting step size per example (Hairer, Nørsett & Wanner, Solving ODEs I, §II.4 "Starting
 * step size"; DOPRI5's HINIT): with d0 = ‖y0‖ and d1 = ‖f0‖ in the error norm, an explicit Euler
 * step of h0 = 0.01·d0/d1 estimates ‖y''‖ ≈ d2 = ‖f(t0 + h0, y0 + h0 f0) − f0‖ / h0, and
 * h = min(100·h0, (0.01 / max(d1, d2))^(1/p)). Costs one call to f and two readbacks.
 */

import { add, mul, noGrad, sub, type Tensor, tensorWithHostCopy, tidy } from "../../compute/mod.ts";
import { perExample } from "../parameterization.ts";
import { errorMeanSquare, readNorms } from "./error_norm.ts";
import type { OdeFn } from "./rk_step.ts";

/** |h| per example for a method of order `order`, never beyond |t1 − t0|. */
export async function initialStepSize(
  f: OdeFn,
  y0: Tensor[],
  f0: Tensor[],
  t0: number,
  t1: number,
  order: number,
  rtol: number,
  atol: number,
): Promise<Float64Array> {
  const B = y0[0].shape[0];
  const dir = Math.sign(t1 - t0), span = Math.abs(t1 - t0);
  // times keep a host copy: the model's per-example coefficients then come from the host
  const upload = (v: ArrayLike<number>) => tensorWithHostCopy(y0[0].backend, v, [B], y0[0].dtype);
  // The scale uses |y0| alone (max(|y0|, |y0|)).
  const norm = (v: Tensor[]) => noGrad(() => errorMeanSquare(v, y0, y0, rtol, atol));
  const [d0, d1] = await readNorms(tidy(() => [norm(y0), norm(f0)]));
  const h0 = d0.map((a, b) =>
    a < 1e-5 || d1[b] < 1e-5 ? Math.min(1e-6, span) : Math.min(0.01 * a / d1[b], span)
  );
  const [d2] = await readNorms(tidy(() => {
    const hT = upload(h0.map((h) => dir * h));
    const y1 = noGrad(() => y0.map((y, c) => add(y, mul(f0[c], perExample(hT, y)))));
    const f1 = f(upload(h0.map((h) => t0 + dir * h)), y1);
    return [norm(noGrad(() => f1.map((v, c) => sub(v, f0[c]))))];
  }));
  return h0.map((h, b) => {
    const m = Math.max(d1[b], d2[b] / h);
    const h1 = m <= 1e-15 ? Math.max(1e-6, h * 1e-3) : (0.01 / m) ** (1 / order);
    return Math.min(100 * h, h1, span);
  });
}
