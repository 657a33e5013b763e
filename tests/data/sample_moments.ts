/** Moment checks for sampled draws: estimates with standard errors, and a z-score bound. */

import assert from "node:assert/strict";
import {
  type Backend,
  type DType,
  mul,
  referenceBackend,
  Rng,
  type Tensor,
} from "../../compute/mod.ts";
import type { Sde } from "../../sde/sde.ts";

/** A z-score bound: with ~65 checked moments per mixture, 4σ keeps false alarms below 1%. */
export const Z_MAX = 4;

/**
 * Sample mean and covariance of rows of `x` ([n, D]) with standard errors: √(S_ii/n) for the
 * mean, and √(Var[(x_i − m_i)(x_j − m_j)]/n) for each covariance entry (fourth moments
 * estimated from the same draws).
 */
export function moments(x: ArrayLike<number>, n: number, D: number) {
  const mean = new Array<number>(D).fill(0);
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) mean[i] += x[r * D + i] / n;
  const cov = mean.map(() => new Array<number>(D).fill(0));
  const sq = mean.map(() => new Array<number>(D).fill(0));
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        const p = (x[r * D + i] - mean[i]) * (x[r * D + j] - mean[j]);
        cov[i][j] += p / n;
        sq[i][j] += (p * p) / n;
      }
    }
  }
  const meanSe = mean.map((_, i) => Math.sqrt(cov[i][i] / n));
  const covSe = cov.map((row, i) => row.map((c, j) => Math.sqrt((sq[i][j] - c * c) / n)));
  return { mean, cov, meanSe, covSe };
}

/** Asserts every estimated moment within Z_MAX standard errors of the exact one. */
export function assertMoments(
  x: ArrayLike<number>,
  n: number,
  mean: number[],
  cov: number[][],
  what: string,
) {
  const D = mean.length;
  const est = moments(x, n, D);
  for (let i = 0; i < D; i++) {
    const z = (est.mean[i] - mean[i]) / est.meanSe[i];
    assert.ok(Math.abs(z) < Z_MAX, `${what}: mean[${i}] ${est.mean[i]} vs ${mean[i]} (z = ${z})`);
    for (let j = 0; j <= i; j++) {
      const zc = (est.cov[i][j] - cov[i][j]) / est.covSe[i][j];
      assert.ok(
        Math.abs(zc) < Z_MAX,
        `${what}: cov[${i}][${j}] ${est.cov[i][j]} vs ${cov[i][j]} (z = ${zc})`,
      );
    }
  }
}

/** ‖mean − μ‖ and ‖cov − Σ‖_F of rows of `x` ([n, D]) against a model's exact moments. */
export function momentError(
  exact: { meanHost(): number[]; covarianceHost(): number[][] },
  x: ArrayLike<number>,
  n: number,
): { mean: number; cov: number } {
  const mu = exact.meanHost(), sigma = exact.covarianceHost().flat();
  const est = moments(x, n, mu.length);
  return {
    mean: Math.hypot(...est.mean.map((v, i) => v - mu[i])),
    cov: Math.hypot(...est.cov.flat().map((v, i) => v - sigma[i])),
  };
}

/** n latents of the prior N(0, σ_T² I) in D dimensions, keyed by `seed`. */
export function priorLatents(
  sde: Sde,
  seed: number,
  n: number,
  D: number,
  backend: Backend = referenceBackend(),
  dtype: DType = "f64",
): Tensor {
  return mul(Rng.fromSeed(seed).derive("prior").normal(backend, [n, D], dtype), sde.priorStd);
}
