import assert from "node:assert/strict";
import { pearson, ranks, spearman } from "../../sample/detail_report.ts";
import { detailReportPath, pngSizes } from "../../sample/detail_report.ts";
import { tol } from "../_helpers/tolerances.ts";

const near = (a: number, b: number) => Math.abs(a - b) <= tol.f64.atol + tol.f64.rtol * Math.abs(b);

// By hand: x − x̄ = (−1, 0, 1), y − ȳ = (−7/3, −1/3, 8/3), so Σ = 5, Σdx² = 2, Σdy² = 114/9
// and r = 5 / √(228/9) = 15/√228.
Deno.test("pearson: hand-computed coefficients", () => {
  assert.ok(near(pearson([1, 2, 3], [2, 4, 7]), 15 / Math.sqrt(228)));
  assert.ok(near(pearson([1, 2, 3], [3, 2, 1]), -1));
  assert.ok(near(pearson([1, 2, 3, 4], [2, 4, 6, 8]), 1));
  assert.ok(Number.isNaN(pearson([1, 2, 3], [5, 5, 5])), "a constant side has no correlation");
  assert.throws(() => pearson([1, 2], [1]), /2 values against 1/);
  assert.throws(() => pearson([1], [1]), /at least 2/);
});

// Ties share their mean rank: x ranks (1, 2.5, 2.5, 4), y ranks (1, 3, 2, 4); deviations
// (−1.5, 0, 0, 1.5) and (−1.5, 0.5, −0.5, 1.5) give 4.5 / √(4.5·5) = √0.9.
Deno.test("spearman: ranks with ties, and invariance to monotone maps", () => {
  assert.deepEqual(ranks([10, 20, 20]), [1, 2.5, 2.5]);
  assert.deepEqual(ranks([3, 1, 2]), [3, 1, 2]);
  assert.ok(near(spearman([10, 20, 20, 40], [1, 3, 2, 4]), Math.sqrt(0.9)));
  const x = [1, 2, 3, 4, 5], cubes = x.map((v) => v ** 3);
  assert.ok(near(spearman(x, cubes), 1));
  assert.ok(pearson(x, cubes) < 0.99, "Pearson sees the curvature Spearman ignores");
});

// A flat image compresses to fewer PNG bytes than a noisy one of the same size.
Deno.test("detail report: per-image PNG sizes and the report's file name", () => {
  const flat = new Float64Array(3 * 8 * 8).fill(0.2);
  let seed = 1;
  const noisy = flat.map(() => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
  const both = new Float64Array([...flat, ...noisy]);
  const [a, b] = pngSizes(both, 2, [3, 8, 8]);
  assert.ok(a > 0 && b > a, `flat ${a} bytes, noisy ${b} bytes`);
  assert.equal(detailReportPath("runs/x/samples.png"), "runs/x/samples.detail.csv");
  assert.equal(detailReportPath("runs/x.y/out"), "runs/x.y/out.detail.csv");
});
