/**
 * Dense float64 closed forms for a Gaussian mixture at (α, σ), computed independently of the
 * model's eigendecompositions: each C_k = α²Σ_k + σ²I is factored by Cholesky, C_k = L Lᵀ.
 * With g_k = C_k⁻¹(α μ_k − x) and responsibilities r_k ∝ w_k N(x; α μ_k, C_k):
 *   log p = logsumexp_k [log w_k − ½ D log 2π − ½ log det C_k + ½ (x − αμ_k)ᵀ g_k]
 *   ∇ log p = Σ_k r_k g_k,   ∇² log p = Σ_k r_k (g_k g_kᵀ − C_k⁻¹) − s sᵀ (s the score)
 *   E[x_0 | x] = Σ_k r_k (μ_k + α Σ_k C_k⁻¹(x − α μ_k))
 */

import type { GmmSpec } from "../../data/gmm_spec.ts";

type Mat = number[][];

/** Absolute path of a fixture, so tests do not depend on the working directory. */
export function fixture(name: string): string {
  return decodeURIComponent(new URL(`../../fixtures/${name}`, import.meta.url).pathname);
}

function cholesky(a: Mat): Mat {
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let d = a[j][j];
    for (let k = 0; k < j; k++) d -= l[j][k] ** 2;
    if (!(d > 0)) throw new Error("oracle: matrix not positive definite");
    l[j][j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      l[i][j] = s / l[j][j];
    }
  }
  return l;
}

/** C⁻¹ b from C = L Lᵀ by forward then backward substitution. */
function solve(l: Mat, b: number[]): number[] {
  const n = b.length, y = [...b];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) y[i] -= l[i][k] * y[k];
    y[i] /= l[i][i];
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) y[i] -= l[k][i] * y[k];
    y[i] /= l[i][i];
  }
  return y;
}

export function covOf(spec: GmmSpec, k: number): Mat {
  const D = spec.means[0].length;
  if (spec.covs) return spec.covs[k];
  return Array.from(
    { length: D },
    (_, i) => Array.from({ length: D }, (_, j) => (i === j ? spec.stds![k] ** 2 : 0)),
  );
}

export interface DenseAt {
  logp: number;
  score: number[];
  hessian: Mat;
  denoisingMean: number[];
}

/** Every closed form at one point x for the process values (α, σ). */
export function denseAt(spec: GmmSpec, x: readonly number[], a: number, s: number): DenseAt {
  const D = x.length, K = spec.weights.length;
  const parts = Array.from({ length: K }, (_, k) => {
    const sigma0 = covOf(spec, k);
    const c = sigma0.map((row, i) => row.map((v, j) => a * a * v + (i === j ? s * s : 0)));
    const l = cholesky(c);
    const diff = x.map((xi, i) => xi - a * spec.means[k][i]);
    const g = solve(l, diff).map((v) => -v);
    const logDet = 2 * l.reduce((p, row, i) => p + Math.log(row[i]), 0);
    const logit = Math.log(spec.weights[k]) - (D / 2) * Math.log(2 * Math.PI) - logDet / 2 +
      diff.reduce((p, d, i) => p + d * g[i], 0) / 2;
    const cInv = Array.from({ length: D }, (_, j) => solve(l, x.map((_, i) => (i === j ? 1 : 0))));
    // μ_k + α Σ_k C_k⁻¹(x − α μ_k) = μ_k − α Σ_k g_k
    const cond = spec.means[k].map((m, i) =>
      m - a * sigma0[i].reduce((p, v, j) => p + v * g[j], 0)
    );
    return { logit, g, cInv, cond };
  });
  const m = Math.max(...parts.map((p) => p.logit));
  const logp = m + Math.log(parts.reduce((p, q) => p + Math.exp(q.logit - m), 0));
  const r = parts.map((p) => Math.exp(p.logit - logp));
  const score = x.map((_, i) => parts.reduce((p, q, k) => p + r[k] * q.g[i], 0));
  const hessian = x.map((_, i) =>
    x.map((_, j) =>
      parts.reduce((p, q, k) => p + r[k] * (q.g[i] * q.g[j] - q.cInv[i][j]), 0) -
      score[i] * score[j]
    )
  );
  const denoisingMean = x.map((_, i) => parts.reduce((p, q, k) => p + r[k] * q.cond[i], 0));
  return { logp, score, hessian, denoisingMean };
}

/** Deterministic test points: some near each α-scaled mean, some between, some far out. */
export function probePoints(spec: GmmSpec, n: number, seed = 1): number[][] {
  let state = seed >>> 0;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296 - 0.5;
  };
  const D = spec.means[0].length, K = spec.weights.length;
  return Array.from({ length: n }, (_, i) => {
    const spread = [0.3, 1, 3][i % 3];
    // float32-representable, so float32 backends see exactly the points the oracle sees
    return Array.from({ length: D }, (_, d) => Math.fround(spec.means[i % K][d] + spread * rand()));
  });
}
