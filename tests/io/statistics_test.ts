import assert from "node:assert/strict";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { mean, meanStderr } from "../../io/statistics.ts";

// For 1, 2, …, n: mean (n + 1)/2, unbiased variance n(n + 1)/12, so the standard error of the
// mean is √((n + 1)/12).
Deno.test("meanStderr of 1…n equals the closed form (n + 1)/2 ± √((n + 1)/12)", () => {
  for (const n of [2, 3, 10, 1001]) {
    const v = Float64Array.from({ length: n }, (_, i) => i + 1);
    const r = meanStderr(v);
    assertAllClose([r.mean, r.stderr], [(n + 1) / 2, Math.sqrt((n + 1) / 12)], tol.f64, `n = ${n}`);
    assert.equal(mean(v), r.mean);
  }
});

Deno.test("meanStderr: a shift moves the mean only, a scale c multiplies both by |c|", () => {
  const v = [0.3, -1.7, 2.2, 0.9, -0.4];
  const base = meanStderr(v);
  const shifted = meanStderr(v.map((x) => x + 5));
  const scaled = meanStderr(v.map((x) => -3 * x));
  assertAllClose(
    [shifted.mean, shifted.stderr, scaled.mean, scaled.stderr],
    [base.mean + 5, base.stderr, -3 * base.mean, 3 * base.stderr],
    tol.f64,
    "affine maps",
  );
});

Deno.test("meanStderr: fewer than two values have no standard error (NaN, or the caller's value)", () => {
  assert.deepEqual(meanStderr([4]), { mean: 4, stderr: NaN });
  assert.deepEqual(meanStderr([4], { ifFewerThanTwo: 0 }), { mean: 4, stderr: 0 });
  assert.ok(Number.isNaN(meanStderr([]).mean));
  assert.equal(meanStderr([]).stderr, NaN);
});
