/**
 * The cpu backend's row standardisation and group norm. Each row's statistics take two passes
 * in float64 (the mean, then Σ(x − μ)², accurate where Σx² − (Σx)²/n would cancel) and the
 * biased variance; the output is one more pass, with γ and β folded into one scale and shift per
 * channel run. Group norm's rows are (example, group) pairs of a contiguous [n, C, spatial] x,
 * each a run of C/groups channels of `spatial` elements.
 */

import type { GroupNormGeometry } from "../backend.ts";

// Four partial sums break the chain of dependent float64 additions, which otherwise bounds these
// passes by the adder's latency; float64 keeps the reordering's effect far below float32's ulp.

/** Mean of X[start, start + n). */
function meanOf(X: Float32Array, start: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = start;
  const end = start + n, end4 = start + n - (n % 4);
  for (; i < end4; i += 4) {
    s0 += X[i];
    s1 += X[i + 1];
    s2 += X[i + 2];
    s3 += X[i + 3];
  }
  for (; i < end; i++) s0 += X[i];
  return (s0 + s1 + (s2 + s3)) / n;
}

/** (σ² + eps)^(−1/2) of X[start, start + n) about `mean`. */
function rstdOf(X: Float32Array, start: number, n: number, mean: number, eps: number): number {
  let q0 = 0, q1 = 0, q2 = 0, q3 = 0, i = start;
  const end = start + n, end4 = start + n - (n % 4);
  for (; i < end4; i += 4) {
    const d0 = X[i] - mean, d1 = X[i + 1] - mean, d2 = X[i + 2] - mean, d3 = X[i + 3] - mean;
    q0 += d0 * d0;
    q1 += d1 * d1;
    q2 += d2 * d2;
    q3 += d3 * d3;
  }
  for (; i < end; i++) q0 += (X[i] - mean) ** 2;
  return 1 / Math.sqrt((q0 + q1 + (q2 + q3)) / n + eps);
}

/** out[r, :] = (x[r, :] − μ_r) · ρ_r over a contiguous [rows, cols] x. */
export function normalizeRows(
  X: Float32Array,
  rows: number,
  cols: number,
  eps: number,
  O: Float32Array,
): void {
  for (let r = 0, at = 0; r < rows; r++, at += cols) {
    const mean = meanOf(X, at, cols), rstd = rstdOf(X, at, cols, mean, eps);
    for (let i = at; i < at + cols; i++) O[i] = (X[i] - mean) * rstd;
  }
}

/** ρ_r of each row of a contiguous [rows, cols] x, into out [rows]. */
export function rowRstd(
  X: Float32Array,
  rows: number,
  cols: number,
  eps: number,
  O: Float32Array,
): void {
  for (let r = 0, at = 0; r < rows; r++, at += cols) {
    O[r] = rstdOf(X, at, cols, meanOf(X, at, cols), eps);
  }
}

/** out = (x − μ) ρ γ_c + β_c per (example, group) row. */
export function groupNorm(
  X: Float32Array,
  G: Float32Array,
  B: Float32Array,
  g: GroupNormGeometry,
  O: Float32Array,
): void {
  const perGroup = g.channels / g.groups, cols = perGroup * g.spatial, sp = g.spatial;
  for (let r = 0, at = 0; r < g.n * g.groups; r++, at += cols) {
    const mean = meanOf(X, at, cols), rstd = rstdOf(X, at, cols, mean, g.eps);
    const c0 = (r % g.groups) * perGroup;
    for (let c = 0; c < perGroup; c++) {
      const scale = rstd * G[c0 + c], shift = B[c0 + c], start = at + c * sp;
      for (let i = start; i < start + sp; i++) O[i] = (X[i] - mean) * scale + shift;
    }
  }
}

/**
 * groupNorm's gradient in x: with x̂ = (x − μ) ρ and u = dy·γ per row,
 * dx = ρ (u − mean(u) − x̂ · mean(u x̂)). Σu and Σu(x − μ) share the variance's pass.
 */
export function groupNormInputGrad(
  X: Float32Array,
  G: Float32Array,
  DY: Float32Array,
  g: GroupNormGeometry,
  O: Float32Array,
): void {
  const perGroup = g.channels / g.groups, cols = perGroup * g.spatial, sp = g.spatial;
  for (let r = 0, at = 0; r < g.n * g.groups; r++, at += cols) {
    const mean = meanOf(X, at, cols), c0 = (r % g.groups) * perGroup;
    let q = 0, su = 0, sud = 0;
    for (let c = 0; c < perGroup; c++) {
      const gamma = G[c0 + c], start = at + c * sp;
      for (let i = start; i < start + sp; i++) {
        const d = X[i] - mean, u = DY[i] * gamma;
        q += d * d;
        su += u;
        sud += u * d;
      }
    }
    const rstd = 1 / Math.sqrt(q / cols + g.eps);
    const meanU = su / cols, meanUXhat = (sud * rstd) / cols;
    for (let c = 0; c < perGroup; c++) {
      const gamma = G[c0 + c], start = at + c * sp;
      for (let i = start; i < start + sp; i++) {
        O[i] = rstd * (DY[i] * gamma - meanU - (X[i] - mean) * rstd * meanUXhat);
      }
    }
  }
}
