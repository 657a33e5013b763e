/**
 * Kernel benchmarks: matmul 256/512/1024 and conv2d 3×3, 64→64 channels, 28×28, batch 64,
 * forward and backward (input and weight gradients), on each backend, in GFLOP/s.
 */

import {
  type Backend,
  conv2d,
  matmul,
  mul,
  Rng,
  sum,
  type Tensor,
  tidy,
  valueAndGrad,
} from "../compute/mod.ts";
import { time, type Timing } from "./timing.ts";

export interface KernelResult extends Timing {
  name: string;
  backend: string;
  gflops: number;
}

async function measure(
  backend: Backend,
  name: string,
  flops: number,
  reps: number,
  body: () => Tensor,
): Promise<KernelResult> {
  const t = await time(async () => {
    const out = tidy(body);
    await out.read(); // one element would do, but read() is the only sync point
    out.dispose();
  }, reps);
  return { name, backend: backend.name, ...t, gflops: flops / (t.ms_median * 1e6) };
}

export async function runKernels(
  backends: Backend[],
  log: (s: string) => void,
): Promise<KernelResult[]> {
  const results: KernelResult[] = [];
  // Each case is logged as it finishes: the slow ones take minutes on a CPU adapter.
  const record = (r: KernelResult) => {
    log(`  ${r.name} ${r.backend}: ${r.ms_median.toFixed(1)} ms, ${r.gflops.toFixed(2)} GFLOP/s`);
    results.push(r);
  };
  for (const be of backends) {
    const slow = be.name === "reference";
    const rng = Rng.fromSeed(0);
    for (const n of [256, 512, 1024]) {
      const a = rng.normal(be, [n, n]), b = rng.normal(be, [n, n]);
      const reps = slow && n > 256 ? 1 : 3;
      record(await measure(be, `matmul.${n}`, 2 * n ** 3, reps, () => matmul(a, b)));
      a.dispose();
      b.dispose();
    }
    const x = rng.normal(be, [64, 64, 28, 28]), w = rng.normal(be, [64, 64, 3, 3]);
    const g = rng.normal(be, [64, 64, 28, 28]);
    const p = { stride: 1, padding: 1 };
    const macs = 64 * 64 * 64 * 28 * 28 * 9;
    record(await measure(be, "conv2d.3x3.64x64.28.b64.fwd", 2 * macs, 1, () => conv2d(x, w, p)));
    // input and weight gradients of ⟨conv(x, w), g⟩
    const backward = () => {
      const loss = (t: { x: Tensor; w: Tensor }) => sum(mul(conv2d(t.x, t.w, p), g));
      const { grad } = valueAndGrad(loss)({ x, w });
      return mul(sum(grad.x), sum(grad.w));
    };
    record(await measure(be, "conv2d.3x3.64x64.28.b64.bwd", 4 * macs, 1, backward));
    for (const t of [x, w, g]) t.dispose();
  }
  return results;
}
