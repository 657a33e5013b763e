/**
 * The mean of per-example figures and the standard error of that mean, √(s²/n) with the unbiased
 * sample variance s² = Σ(x − m)²/(n − 1): what every "± s.e." in the reports and benchmarks
 * prints.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { mean, stderr } = meanStderr([1, 2, 3, 4]); // 2.5, √(5/12)
 * assert.equal(mean, 2.5);
 * assert.ok(Math.abs(stderr - Math.sqrt(5 / 12)) < 1e-15);
 * ```
 */

export interface MeanStderr {
  mean: number;
  stderr: number;
}

/** Σx/n; NaN for no values. */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/**
 * The mean and its standard error. With fewer than two values there is no spread to estimate:
 * the error is then `ifFewerThanTwo` (NaN unless the caller reports something else, e.g. 0).
 */
export function meanStderr(
  values: ArrayLike<number>,
  { ifFewerThanTwo = NaN }: { ifFewerThanTwo?: number } = {},
): MeanStderr {
  const n = values.length, m = mean(values);
  if (n < 2) return { mean: m, stderr: ifFewerThanTwo };
  let s2 = 0;
  for (let i = 0; i < n; i++) s2 += (values[i] - m) ** 2;
  return { mean: m, stderr: Math.sqrt(s2 / (n - 1) / n) };
}
