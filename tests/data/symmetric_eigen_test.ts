import assert from "node:assert/strict";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { symmetricEigen } from "../../data/symmetric_eigen.ts";

/** A seeded symmetric matrix with entries in (−1, 1). */
function randomSymmetric(n: number, seed: number): number[][] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  const a = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i][j] = a[j][i] = rand();
  return a;
}

/** Asserts U diag(λ) Uᵀ = A, UᵀU = I and ascending λ, all to float64 rounding of ‖A‖. */
function assertDecomposes(a: number[][], what: string) {
  const n = a.length;
  const { values, vectors: u } = symmetricEigen(a);
  const scale = Math.max(1, ...a.flat().map(Math.abs));
  const rounding = { ...tol.f64, atol: 1e-13 * scale * n };
  const rebuilt = a.map((_, i) =>
    a.map((_, j) => values.reduce((s, l, k) => s + u[i][k] * l * u[j][k], 0))
  );
  assertAllClose(rebuilt.flat(), a.flat(), rounding, `${what}: U diag(λ) Uᵀ`);
  const gram = a.map((_, i) => a.map((_, j) => u.reduce((s, row) => s + row[i] * row[j], 0)));
  const eye = a.map((_, i) => a.map((_, j) => (i === j ? 1 : 0)));
  assertAllClose(gram.flat(), eye.flat(), { ...tol.f64, atol: 1e-13 * n }, `${what}: UᵀU = I`);
  for (let k = 1; k < n; k++) assert.ok(values[k - 1] <= values[k], `${what}: λ ascending`);
  // trace is invariant: Σλ = tr A
  const tr = a.reduce((s, row, i) => s + row[i], 0);
  assert.ok(Math.abs(values.reduce((s, l) => s + l, 0) - tr) < 1e-12 * scale * n, `${what}: trace`);
  return { values, vectors: u };
}

Deno.test("symmetricEigen: [[2, 1], [1, 2]] has eigenvalues 1, 3 along (1, ∓1)/√2", () => {
  const { values, vectors } = assertDecomposes([[2, 1], [1, 2]], "2×2");
  assertAllClose(values, [1, 3], tol.f64, "λ");
  // eigenvectors up to sign: |u| components 1/√2, opposite signs for λ = 1
  assertAllClose(vectors.flat().map(Math.abs), new Array(4).fill(Math.SQRT1_2), tol.f64, "|U|");
  assert.ok(vectors[0][0] * vectors[1][0] < 0 && vectors[0][1] * vectors[1][1] > 0);
});

Deno.test("symmetricEigen: random symmetric matrices up to 12×12 are reconstructed", () => {
  for (const n of [1, 3, 7, 12]) assertDecomposes(randomSymmetric(n, n), `${n}×${n}`);
});

Deno.test("symmetricEigen: diagonal input is sorted with its permutation", () => {
  const { values, vectors } = assertDecomposes([[3, 0, 0], [0, -1, 0], [0, 0, 2]], "diag");
  assert.deepEqual(values, [-1, 2, 3]);
  assert.deepEqual(vectors.map((r) => r.map(Math.abs)), [[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
});

// Repeated eigenvalues leave the eigenvectors free within their eigenspace; the decomposition
// must still be exact and orthonormal (a Jacobi method with a bad rotation choice stalls here).
Deno.test("symmetricEigen: repeated and clustered eigenvalues", () => {
  const eye = (c: number) => [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? c : 0)));
  assertAllClose(symmetricEigen(eye(0.49)).values, [0.49, 0.49, 0.49, 0.49], tol.f64, "c²I");
  // rank-one update of the identity: eigenvalues 1 (three times) and 1 + ‖w‖²
  const w = [1, 2, -1, 0.5];
  const a = w.map((wi, i) => w.map((wj, j) => (i === j ? 1 : 0) + wi * wj));
  const { values } = assertDecomposes(a, "I + wwᵀ");
  assertAllClose(values, [1, 1, 1, 1 + 6.25], tol.f64, "λ(I + wwᵀ)");
  // eigenvalues 1 ± 1e-9: nearly degenerate, widely different scales elsewhere
  assertDecomposes([[1, 1e-9, 0], [1e-9, 1, 0], [0, 0, 1e6]], "clustered");
});

Deno.test("symmetricEigen: non-finite entries throw", () => {
  assert.throws(() => symmetricEigen([[1, NaN], [NaN, 1]]), /non-finite/);
});
