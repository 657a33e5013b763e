/**
 * The cpu backend's batched Cholesky factorisation and triangular solves: small matrices (the
 * r×r blocks of data whitening and guidance), so plain loops; sums run in float64 over the
 * stored float32 factors.
 */

/** Lower Cholesky factors of `batch` SPD r×r matrices (lower triangle read, upper zeroed). */
export function cholesky(A: Float32Array, batch: number, r: number, L: Float32Array): void {
  for (let p = 0; p < batch; p++) {
    const o = p * r * r;
    for (let j = 0; j < r; j++) {
      const rowJ = o + j * r;
      let s = A[rowJ + j];
      for (let k = 0; k < j; k++) s -= L[rowJ + k] * L[rowJ + k];
      const diag = Math.sqrt(s);
      L[rowJ + j] = diag;
      for (let i = j + 1; i < r; i++) {
        const rowI = o + i * r;
        let t = A[rowI + j];
        for (let k = 0; k < j; k++) t -= L[rowI + k] * L[rowJ + k];
        L[rowI + j] = t / diag;
        L[rowJ + i] = 0;
      }
    }
  }
}

/**
 * Solves op(L) X = B for lower-triangular L [batch, r, r] and B [batch, r, m], op transposing
 * when `transpose`: forward substitution for L X = B, backward for Lᵀ X = B, column by column.
 */
export function triangularSolve(
  L: Float32Array,
  B: Float32Array,
  batch: number,
  r: number,
  m: number,
  transpose: boolean,
  X: Float32Array,
): void {
  for (let p = 0; p < batch; p++) {
    const lo = p * r * r, bo = p * r * m;
    for (let c = 0; c < m; c++) {
      if (transpose) {
        for (let i = r - 1; i >= 0; i--) {
          let s = B[bo + i * m + c];
          for (let k = r - 1; k > i; k--) s -= L[lo + k * r + i] * X[bo + k * m + c];
          X[bo + i * m + c] = s / L[lo + i * r + i];
        }
      } else {
        for (let i = 0; i < r; i++) {
          let s = B[bo + i * m + c];
          for (let k = 0; k < i; k++) s -= L[lo + i * r + k] * X[bo + k * m + c];
          X[bo + i * m + c] = s / L[lo + i * r + i];
        }
      }
    }
  }
}
