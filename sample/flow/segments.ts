/**
 * A guided sample as a chain of segments from T down to t_min (PF-ODE then HD ODE; guidance
 * ODE, noisy window, guidance ODE), each advancing the device state [x, ℓ, w] of
 * `scaled.ts`. Nothing is read back between segments (each ODE step reads only its
 * error norms); at the end one readback gives x_{t_min} and log p_{t_min} = log p_T(x_T) + ℓ.
 */

import { noGrad, type Tensor, tidy, zeros } from "../../compute/mod.ts";
import type { Sde } from "../../sde/sde.ts";
import { priorLogp } from "../../sde/prior.ts";

export interface SegmentResult {
  /** the new state; the runner disposes the previous one */
  y: Tensor[];
  nfe: number;
  nfePerExample: Int32Array;
  steps: number;
}

/** Advances [x, ℓ, w]; must not dispose its input. */
export type Segment = (y: Tensor[]) => Promise<SegmentResult>;

export interface FlowResult {
  /** x at t_min, row-major, one row per example */
  x: Float64Array;
  /** log p_{t_min}(x) per example = terminal log-density + ℓ, nats */
  logp: Float64Array;
  /** the terminal log-density log π(x_T) (or the model's log p_T) */
  terminalLogp: Float64Array;
  /** nats of the requested log-density change a clamp withheld (0: never clamped) */
  withheld: Float64Array;
  nfe: number;
  nfePerExample: Int32Array;
  steps: number;
}

/**
 * Runs `segments` in order from x_T (not consumed). `terminalLogp` defaults to the process's
 * prior π; the analytic model's own log p_T gives `--prior exact`.
 */
export async function runSegments(
  sde: Sde,
  xT: Tensor,
  segments: Segment[],
  terminalLogp?: (xT: Tensor) => Tensor,
): Promise<FlowResult> {
  const B = xT.shape[0];
  const prior = tidy(() => noGrad(() => (terminalLogp ?? ((y: Tensor) => priorLogp(sde, y)))(xT)));
  const start = [xT, zeros(xT.backend, [B], xT.dtype), zeros(xT.backend, [B], xT.dtype)];
  let y = start;
  let nfe = 0, steps = 0;
  const nfePerExample = new Int32Array(B);
  try {
    for (const run of segments) {
      const r = await run(y);
      if (y !== start) y.forEach((v) => v.dispose());
      y = r.y;
      nfe += r.nfe;
      steps += r.steps;
      r.nfePerExample.forEach((n, b) => (nfePerExample[b] += n));
    }
    const [x, ell, w, p] = await Promise.all([...y, prior].map((v) => v.read()));
    return {
      x: Float64Array.from(x),
      logp: Float64Array.from(ell, (d, i) => p[i] + d),
      terminalLogp: Float64Array.from(p),
      withheld: Float64Array.from(w),
      nfe,
      nfePerExample,
      steps,
    };
  } finally {
    if (y !== start) y.forEach((v) => v.dispose());
    start[1].dispose();
    start[2].dispose();
    prior.dispose();
  }
}
