/**
 * Symmetric eigendecomposition A = U diag(λ) Uᵀ in float64 by the cyclic Jacobi method
 * (Golub & Van Loan §8.5): sweeps of plane rotations, each zeroing one off-diagonal pair,
 * until the off-diagonal mass is negligible. Slow (O(n³) per sweep, ~6–10 sweeps) but simple
 * and accurate to a few ulp of ‖A‖ even for clustered eigenvalues, which is what a host-side
 * decomposition of small covariance matrices needs.
 */

export interface SymmetricEigen {
  /** Eigenvalues λ in ascending order. */
  values: number[];
  /** U, row-major: column j (`vectors[i][j]` over i) is the unit eigenvector of `values[j]`. */
  vectors: number[][];
}

const MAX_SWEEPS = 100;

/**
 * Decomposes the symmetric matrix `a` (only its upper triangle is read; the lower one is
 * assumed to mirror it). Throws if the sweeps do not converge (non-finite input).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { values } = symmetricEigen([[2, 1], [1, 2]]); // [1, 3]
 * assert.ok(Math.abs(values[0] - 1) < 1e-12 && Math.abs(values[1] - 3) < 1e-12);
 * ```
 */
export function symmetricEigen(a: readonly (readonly number[])[]): SymmetricEigen {
  const n = a.length;
  // Work on a full symmetric copy built from the upper triangle.
  const m = a.map((row, i) => row.map((_, j) => (j >= i ? a[i][j] : a[j][i])));
  const u = m.map((_, i) => m.map((_, j) => (i === j ? 1 : 0)));
  let scale = 0;
  for (const row of m) for (const v of row) scale += v * v;
  if (!Number.isFinite(scale)) throw new Error("symmetricEigen: the matrix has non-finite entries");
  // Stop when the off-diagonal mass is at rounding level relative to the whole matrix.
  const target = scale * (Number.EPSILON * n) ** 2;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    if (offDiagonal2(m) <= target) return sorted(m, u);
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        if (m[p][q] !== 0) rotate(m, u, p, q);
      }
    }
  }
  if (offDiagonal2(m) <= target * 1e4) return sorted(m, u);
  throw new Error(`symmetricEigen: no convergence after ${MAX_SWEEPS} sweeps`);
}

function offDiagonal2(m: number[][]): number {
  let s = 0;
  for (let i = 0; i < m.length; i++) {
    for (let j = 0; j < m.length; j++) if (i !== j) s += m[i][j] ** 2;
  }
  return s;
}

/**
 * One Jacobi rotation J(p, q, θ) making m[p][q] = 0: with θ = (a_qq − a_pp)/(2a_pq), the
 * smaller root t = sgn θ/(|θ| + √(θ² + 1)) of t² + 2θt − 1 = 0 is tan of the rotation angle
 * (the smaller angle keeps the iteration convergent), c = 1/√(1 + t²), s = t·c.
 * Then m ← Jᵀ m J and u ← u J.
 */
function rotate(m: number[][], u: number[][], p: number, q: number): void {
  const apq = m[p][q];
  const theta = (m[q][q] - m[p][p]) / (2 * apq);
  // For huge θ, θ² overflows; then t ≈ 1/(2θ).
  const t = Math.abs(theta) > 1e150
    ? 1 / (2 * theta)
    : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(1 + t * t), s = t * c;
  const n = m.length;
  for (let k = 0; k < n; k++) {
    // columns p and q
    const mkp = m[k][p], mkq = m[k][q];
    m[k][p] = c * mkp - s * mkq;
    m[k][q] = s * mkp + c * mkq;
  }
  for (let k = 0; k < n; k++) {
    // rows p and q
    const mpk = m[p][k], mqk = m[q][k];
    m[p][k] = c * mpk - s * mqk;
    m[q][k] = s * mpk + c * mqk;
  }
  // The rotation is built to annihilate this pair; set it exactly rather than keep rounding.
  m[p][q] = m[q][p] = 0;
  for (let k = 0; k < n; k++) {
    const ukp = u[k][p], ukq = u[k][q];
    u[k][p] = c * ukp - s * ukq;
    u[k][q] = s * ukp + c * ukq;
  }
}

/** Diagonal of m as eigenvalues, ascending, with the columns of u permuted alike. */
function sorted(m: number[][], u: number[][]): SymmetricEigen {
  const order = m.map((_, i) => i).sort((i, j) => m[i][i] - m[j][j]);
  return {
    values: order.map((i) => m[i][i]),
    vectors: u.map((row) => order.map((j) => row[j])),
  };
}
