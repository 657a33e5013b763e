/**
 * The shift of mean log p_0 that density guidance realised (docs/MATH.md §5), measured against
 * the PF-ODE from the same latents, beside the shift it predicted.
 */

import type { FlowResult } from "../flow/segments.ts";

/** A guided batch, with the tracked log p_0 of its PF-ODE baseline where a shift is predicted. */
export type GuidedResult = FlowResult & { baselineLogp?: Float64Array };

/**
 * The realised shift: the mean over samples of log p_0(guided) − log p_0(PF-ODE), both tracked
 * from the same latent, with the standard error of that paired mean.
 */
export function realisedShift(results: GuidedResult[]) {
  const diffs = results.flatMap((r) => Array.from(r.logp, (v, i) => v - r.baselineLogp![i]));
  const baseline = results.flatMap((r) => Array.from(r.baselineLogp!));
  const n = diffs.length, mean = diffs.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? diffs.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1) : NaN;
  return {
    mean,
    stderr: Math.sqrt(variance / n),
    baselineMean: baseline.reduce((a, b) => a + b, 0) / n,
  };
}
