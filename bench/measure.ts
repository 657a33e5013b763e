/**
 * Repeated timing with warm-up (median, min and max milliseconds) and the result row every
 * benchmark case reports, ours and the peers' alike.
 */

import { type Backend, type Tensor, tidy } from "../compute/mod.ts";

export interface Timing {
  ms_median: number;
  ms_min: number;
  ms_max: number;
}

export interface CaseResult extends Timing {
  name: string;
  backend: string;
  /** Nominal GFLOP/s at the median (examples/s for `eval_nll.*`); null when not counted. */
  gflops: number | null;
  note?: string;
}

/** Times `run`, which must wait for its own work, after `warmup` untimed calls. */
export async function timeCase(
  run: () => Promise<void>,
  reps: number,
  warmup = 1,
): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await run();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { ms_median: ms[Math.floor(ms.length / 2)], ms_min: ms[0], ms_max: ms[ms.length - 1] };
}

/**
 * Times `body` (whose intermediates a scope frees) and ends each run on a readback of its
 * result: the only point where a backend's queued work is known to be done.
 */
export async function measure(
  backend: Backend,
  name: string,
  flops: number,
  reps: number,
  body: () => Tensor,
): Promise<CaseResult> {
  const t = await timeCase(async () => {
    const out = tidy(body);
    await out.read();
    out.dispose();
  }, reps);
  return { name, backend: backend.name, ...t, gflops: flops / (t.ms_median * 1e6) };
}

/** A run of `steps` steps as per-step figures (GFLOP/s is unchanged by the division). */
export function perStep(r: CaseResult, steps: number): CaseResult {
  if (steps === 1) return r;
  return {
    ...r,
    ms_median: r.ms_median / steps,
    ms_min: r.ms_min / steps,
    ms_max: r.ms_max / steps,
    note: `${steps} steps per loss readback`,
  };
}
