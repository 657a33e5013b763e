/**
 * The cpu backend's fused Adam(W) step, one pass over parameter, gradient and both moments. The
 * moments are rounded to float32 before they are used, as the stored values are, so a step
 * equals the reference's float32 step exactly.
 */

import type { AdamParams } from "../backend.ts";

/** In place over P, M, V from G; nothing changes where the one-element gate is 0. */
export function adam(
  P: Float32Array,
  G: Float32Array,
  M: Float32Array,
  V: Float32Array,
  gate: Float32Array,
  p: AdamParams,
): void {
  if (gate[0] === 0) return;
  const { lr, beta1, beta2, eps, weightDecay, bias1, bias2 } = p;
  const c1 = 1 - beta1, c2 = 1 - beta2, n = P.length;
  for (let i = 0; i < n; i++) {
    const g = G[i];
    const m = Math.fround(beta1 * M[i] + c1 * g);
    const v = Math.fround(beta2 * V[i] + c2 * g * g);
    M[i] = m;
    V[i] = v;
    const step = (m / bias1) / (Math.sqrt(v / bias2) + eps);
    P[i] -= lr * (step + weightDecay * P[i]);
  }
}
