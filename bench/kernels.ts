/**
 * Kernel benchmarks: matmul 256/512/1024; conv2d 3×3, 64→64 channels, 28×28, batch 64, forward
 * and backward (input and weight gradients); group norm (8 groups) forward and backward on the
 * same activation; the attention core softmax(q kᵀ/√d) v at 7×7 tokens, forward and backward.
 * FLOP counts are nominal (multiply-adds ×2 for products; per-element estimates for the rest).
 */

import {
  attention,
  type Backend,
  conv2d,
  groupNorm,
  matmul,
  mul,
  Rng,
  sum,
  type Tensor,
  valueAndGrad,
} from "../compute/mod.ts";
import { type CaseResult, measure } from "./measure.ts";

/** Σ over the gradients' entries, one number that depends on every gradient. */
function gradTotal(grads: Tensor[]): Tensor {
  return grads.map((g) => sum(g)).reduce((a, b) => mul(a, b));
}

export async function runKernels(
  be: Backend,
  reps: number,
  record: (r: CaseResult) => void,
  only: (name: string) => boolean,
): Promise<void> {
  const slow = be.name === "reference";
  const rng = Rng.fromSeed(0);
  for (const n of [256, 512, 1024]) {
    if (!only(`matmul.${n}`)) continue;
    const a = rng.normal(be, [n, n]), b = rng.normal(be, [n, n]);
    const r = slow && n > 256 ? 1 : reps;
    record(await measure(be, `matmul.${n}`, 2 * n ** 3, r, () => matmul(a, b)));
    a.dispose();
    b.dispose();
  }
  const x = rng.normal(be, [64, 64, 28, 28]), g = rng.normal(be, [64, 64, 28, 28]);
  const w = rng.normal(be, [64, 64, 3, 3]);
  const p = { stride: 1, padding: 1 };
  const macs = 64 * 64 * 64 * 28 * 28 * 9;
  const convReps = slow ? 1 : Math.min(reps, 3);
  if (only("conv2d.3x3.64x64.28.b64.fwd")) {
    record(
      await measure(be, "conv2d.3x3.64x64.28.b64.fwd", 2 * macs, convReps, () => conv2d(x, w, p)),
    );
  }
  if (only("conv2d.3x3.64x64.28.b64.bwd")) {
    const loss = (t: { x: Tensor; w: Tensor }) => sum(mul(conv2d(t.x, t.w, p), g));
    const bwd = () => {
      const { grad } = valueAndGrad(loss)({ x, w });
      return gradTotal([grad.x, grad.w]);
    };
    // the forward is recomputed inside: 2 (forward) + 4 (both gradients) FLOPs per MAC
    record(await measure(be, "conv2d.3x3.64x64.28.b64.bwd", 6 * macs, convReps, bwd));
  }
  if (only("groupnorm")) {
    const gamma = rng.normal(be, [64]), beta = rng.normal(be, [64]);
    const loss = (t: { x: Tensor; gamma: Tensor; beta: Tensor }) =>
      sum(mul(groupNorm(t.x, 8, t.gamma, t.beta, 1e-6), g));
    const step = () => {
      const { grad } = valueAndGrad(loss)({ x, gamma, beta });
      return gradTotal([grad.x, grad.gamma, grad.beta]);
    };
    // ≈ 8 FLOPs per element forward and 16 backward (statistics, normalise, affine, their VJPs)
    record(await measure(be, "groupnorm", 24 * x.size, slow ? 1 : reps, step));
  }
  if (only("attention.7x7")) {
    const [q, k, v] = [0, 1, 2].map(() => rng.normal(be, [64, 49, 64]));
    const ga = rng.normal(be, [64, 49, 64]);
    const loss = (t: { q: Tensor; k: Tensor; v: Tensor }) => sum(mul(attention(t.q, t.k, t.v), ga));
    const step = () => {
      const { grad } = valueAndGrad(loss)({ q, k, v });
      return gradTotal([grad.q, grad.k, grad.v]);
    };
    // two L×L×d products forward, four backward
    record(await measure(be, "attention.7x7", 6 * 2 * 64 * 49 * 49 * 64, reps, step));
  }
  for (const t of [x, w, g]) t.dispose();
}
