/**
 * The cpu backend's contiguous elementwise kernels: unary maps and linear combinations. One loop
 * per op, chosen before the loop; the sigmoid family runs on the branch-free `exp.ts`.
 */

import type { UnaryOp } from "../backend.ts";
import { exp } from "./exp.ts";

/** out[i] = op(x[i]) over out's length. */
export function unary(op: UnaryOp, X: Float32Array, O: Float32Array): void {
  const n = O.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) O[i] = -X[i];
      return;
    case "exp":
      for (let i = 0; i < n; i++) O[i] = exp(X[i]);
      return;
    case "log":
      for (let i = 0; i < n; i++) O[i] = Math.log(X[i]);
      return;
    case "sin":
      for (let i = 0; i < n; i++) O[i] = Math.sin(X[i]);
      return;
    case "cos":
      for (let i = 0; i < n; i++) O[i] = Math.cos(X[i]);
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) O[i] = Math.sqrt(X[i]);
      return;
    case "recip":
      for (let i = 0; i < n; i++) O[i] = 1 / X[i];
      return;
    case "tanh":
      for (let i = 0; i < n; i++) O[i] = Math.tanh(X[i]);
      return;
    // 1 / (1 + e^−x) neither overflows to NaN nor loses accuracy: for x ≪ 0 it is 1 / (large)
    case "sigmoid":
      for (let i = 0; i < n; i++) O[i] = 1 / (1 + exp(-X[i]));
      return;
    case "silu":
      for (let i = 0; i < n; i++) {
        const x = X[i];
        O[i] = x / (1 + exp(-x));
      }
      return;
    case "abs":
      for (let i = 0; i < n; i++) O[i] = Math.abs(X[i]);
      return;
    case "sign":
      for (let i = 0; i < n; i++) {
        const x = X[i];
        O[i] = x > 0 ? 1 : x < 0 ? -1 : 0;
      }
      return;
  }
}

/**
 * O[i] = Σ_j w[j] · T[j][i] for i < n, summed left to right in float64 from 0 (as the reference
 * does), in one pass: a loop per term count.
 */
export function weightedSum(
  T: readonly Float32Array[],
  w: readonly number[],
  n: number,
  O: Float32Array,
): void {
  const [t0, t1, t2, t3, t4, t5, t6] = T;
  const [w0, w1, w2, w3, w4, w5, w6] = w;
  switch (T.length) {
    case 0:
      O.fill(0, 0, n);
      return;
    case 1:
      for (let i = 0; i < n; i++) O[i] = 0 + w0 * t0[i];
      return;
    case 2:
      for (let i = 0; i < n; i++) O[i] = 0 + w0 * t0[i] + w1 * t1[i];
      return;
    case 3:
      for (let i = 0; i < n; i++) O[i] = 0 + w0 * t0[i] + w1 * t1[i] + w2 * t2[i];
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        O[i] = 0 + w0 * t0[i] + w1 * t1[i] + w2 * t2[i] + w3 * t3[i];
      }
      return;
    case 5:
      for (let i = 0; i < n; i++) {
        O[i] = 0 + w0 * t0[i] + w1 * t1[i] + w2 * t2[i] + w3 * t3[i] + w4 * t4[i];
      }
      return;
    case 6:
      for (let i = 0; i < n; i++) {
        O[i] = 0 + w0 * t0[i] + w1 * t1[i] + w2 * t2[i] + w3 * t3[i] + w4 * t4[i] + w5 * t5[i];
      }
      return;
    case 7:
      for (let i = 0; i < n; i++) {
        O[i] = 0 + w0 * t0[i] + w1 * t1[i] + w2 * t2[i] + w3 * t3[i] + w4 * t4[i] +
          w5 * t5[i] + w6 * t6[i];
      }
      return;
    default:
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < T.length; j++) s += w[j] * T[j][i];
        O[i] = s;
      }
  }
}
