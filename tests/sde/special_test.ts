import assert from "node:assert/strict";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  chiCdf,
  chiQuantile,
  chiQuantileWilsonHilferty,
  erf,
  erfc,
  erfcx,
  logNormalCdf,
  normalCdf,
  normalQuantile,
  regularizedGamma,
} from "../../sde/special.ts";
import golden from "../../fixtures/special_golden.json" with { type: "json" };

const EPS = 2 ** -52;
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
/** Each row's last entry against f of the others. */
function checkRows(rows: number[][], f: (...args: number[]) => number, what: string): void {
  const args = rows.map((r) => r.slice(0, -1));
  assertAllClose(args.map((a) => f(...a)), rows.map((r) => r[r.length - 1]), tol.specialF64, what);
}

Deno.test("special functions reproduce the exact-arithmetic goldens (fixtures/make_special_golden.ts)", () => {
  checkRows(golden.erf, erf, "erf");
  checkRows(golden.erf.map(([x, y]) => [-x, -y]), erf, "erf(−x)");
  checkRows(golden.erfc, erfc, "erfc");
  checkRows(golden.normalCdf, normalCdf, "Φ");
  checkRows(golden.normalQuantile, normalQuantile, "Φ⁻¹");
  checkRows(golden.chiQuantile, chiQuantile, "χ⁻¹");
});

Deno.test("χ CDF and survival function up to D = 1e5 reproduce the exact-arithmetic goldens", () => {
  for (const [D, x, p, q] of golden.chiCdf) {
    const got = chiCdf(D, x);
    assertAllClose([got.p, got.q], [p, q], tol.chiCdfF64, `χ_${D} CDF(${x})`);
  }
});

Deno.test("published values: Φ⁻¹(0.975), Φ⁻¹(1e-10), erf(0.5)", () => {
  assertAllClose([normalQuantile(0.975)], [1.959963984540054], tol.specialF64, "Φ⁻¹(0.975)");
  assertAllClose([normalQuantile(1e-10)], [-6.361340902404056], tol.specialF64, "Φ⁻¹(1e-10)");
  assertAllClose([erf(0.5)], [0.5204998778130465], tol.specialF64, "erf(0.5)");
});

Deno.test("Φ⁻¹(1 − p) = −Φ⁻¹(p) exactly where 1 − p is exact, across all three branches", () => {
  const ps = Array.from({ length: 53 }, (_, k) => 2 ** -(k + 1));
  for (let k = 1; k < 512; k += 7) ps.push(k / 1024);
  // === rather than Object.is: Φ⁻¹(½) = 0 = −0
  for (const p of ps) assert.ok(normalQuantile(1 - p) === -normalQuantile(p), `p = ${p}`);
});

Deno.test("Φ(Φ⁻¹(p)) = p from 1e-307 to 1 − 1e-3, up to x's rounding amplified by x²", () => {
  const ps: number[] = [];
  for (let k = 1; k <= 307; k++) for (const m of [1, 3, 7]) ps.push(m * 10 ** -k);
  for (let i = 1; i < 1000; i++) ps.push(i / 1000);
  ps.sort((a, b) => a - b); // 1e-3 appears twice: equal p, equal x, hence ≥ below
  let previous = -Infinity;
  for (const p of ps) {
    const x = normalQuantile(p);
    assert.ok(x >= previous, `Φ⁻¹ increases: Φ⁻¹(${p}) = ${x} after ${previous}`);
    previous = x;
    const err = rel(normalCdf(x), p);
    assert.ok(err <= tol.normalRoundTrip.rtol * (1 + x * x), `Φ(Φ⁻¹(${p})) off by ${err}`);
  }
  assert.equal(normalQuantile(0), -Infinity);
  assert.equal(normalQuantile(1), Infinity);
  assert.equal(normalQuantile(0.5), 0);
  for (const p of [-0.1, 1.5, NaN]) assert.throws(() => normalQuantile(p), /p must be in \[0, 1\]/);
});

Deno.test("tails: erfcx and ln Φ against their asymptotic series, where erfc and Φ underflow", () => {
  for (const x of [30, 40, 60, 1e3]) {
    // e^{x²}erfc(x) = (1/(x√π)) Σ (−1)ᵏ (2k−1)!!/(2x²)ᵏ; ln Φ(−x) = −x²/2 − ln(x√2π) + ln Σ (−1)ᵏ(2k−1)!!/x^{2k}
    let s1 = 1, t1 = 1, s2 = 1, t2 = 1;
    for (let k = 1; k < 12; k++) {
      s1 += t1 *= -(2 * k - 1) / (2 * x * x);
      s2 += t2 *= -(2 * k - 1) / (x * x);
    }
    assertAllClose([erfcx(x)], [s1 / (x * Math.sqrt(Math.PI))], tol.specialF64, `erfcx(${x})`);
    const logPhi = -x * x / 2 - Math.log(x * Math.sqrt(2 * Math.PI)) + Math.log(s2);
    assertAllClose([logNormalCdf(-x)], [logPhi], tol.specialF64, `ln Φ(−${x})`);
  }
  for (const x of [-20, -3, -0.2, 0.4, 2]) {
    assertAllClose([logNormalCdf(x)], [Math.log(normalCdf(x))], tol.specialF64, `ln Φ(${x})`);
    assertAllClose([erfc(x) + erf(x)], [1], { ...tol.specialF64, atol: EPS }, `erf + erfc at ${x}`);
  }
  // in the upper tail ln Φ(x) = ln(1 − Φ(−x)) = −Φ(−x) − Φ(−x)²/2 − …, not ln of a rounded 1 − 1e-9
  const upper = normalCdf(-6);
  assertAllClose([logNormalCdf(6)], [-upper - upper * upper / 2], tol.specialF64, "ln Φ(6)");
  assert.equal(erfc(30), 0);
  assert.equal(normalCdf(-40), 0);
});

Deno.test("χ CDF against closed forms for D = 1, 2, 3", () => {
  // 5e-15: the closed forms themselves (exp, erf, a subtraction for D = 3) carry a few ulp each
  const t = { rtol: 5e-15, atol: 0, why: "closed forms in float64, a few roundings each" };
  for (let x = 0.55; x < 8; x += 0.25) {
    const e = Math.exp(-x * x / 2);
    assertAllClose([chiCdf(1, x).p], [erf(x / Math.SQRT2)], t, `χ_1 CDF(${x})`);
    assertAllClose([chiCdf(2, x).q], [e], t, `χ_2 survival(${x})`);
    const chi3 = erf(x / Math.SQRT2) - Math.sqrt(2 / Math.PI) * x * e;
    assertAllClose([chiCdf(3, x).p], [chi3], t, `χ_3 CDF(${x})`);
  }
  assertAllClose([regularizedGamma(1, 2).q], [Math.exp(-2)], tol.specialF64, "Q(1, 2) = e⁻²");
});

Deno.test("χ quantile: the CDF brackets it within a few ulps, from D = 1 to 1e5 and q = 1e-300 to 1 − 1e-10", () => {
  for (const D of [1, 2, 3, 10, 100, 1000, 1e4, 1e5]) {
    for (const q of [1e-300, 1e-10, 1e-3, 0.1, 0.5, 0.9, 0.999, 1 - 1e-10]) {
      const x = chiQuantile(D, q);
      // the CDF forms its logarithm first, so its own relative error is ~|ln q|·ε, which is
      // |ln q|/D ulps of x: the bracket may be no tighter than that
      const k = 4 + Math.abs(Math.log(Math.min(q, 1 - q))) / D;
      const below = chiCdf(D, x * (1 - k * EPS)), above = chiCdf(D, x * (1 + k * EPS));
      const ok = q <= 0.5 ? below.p <= q && q <= above.p : below.q >= 1 - q && 1 - q >= above.q;
      assert.ok(ok, `χ_${D}⁻¹(${q}) = ${x} is not bracketed within ${k.toFixed(1)} ulps`);
    }
  }
  assert.equal(chiQuantile(5, 0), 0);
  assert.equal(chiQuantile(5, 1), Infinity);
  assert.throws(() => chiQuantile(0, 0.5), /D must be finite and > 0, found 0/);
  assert.throws(() => chiQuantile(3, 1.5), /q must be in \[0, 1\], found 1.5/);
});

Deno.test("χ quantile: closed forms for D = 1 (Φ⁻¹((1+q)/2)) and D = 2 (√(−2 ln(1 − q)))", () => {
  for (let k = 1; k < 1024; k += 37) {
    const q = k / 1024; // (1 + q)/2 is exact
    assertAllClose(
      [chiQuantile(1, q)],
      [normalQuantile((1 + q) / 2)],
      tol.specialF64,
      `χ_1⁻¹(${q})`,
    );
    assertAllClose(
      [chiQuantile(2, q)],
      [Math.sqrt(-2 * Math.log1p(-q))],
      tol.specialF64,
      `χ_2⁻¹(${q})`,
    );
  }
});

Deno.test("χ quantile for large D: Wilson–Hilferty within O(D^{-3/2}), median √(D − 2/3) within O(D⁻²)", () => {
  for (const D of [1e3, 3072, 1e4, 1e5]) {
    for (const q of [1e-10, 1e-3, 0.5, 0.999]) {
      const z = normalQuantile(q), x = chiQuantile(D, q);
      // Wilson–Hilferty's cube-root normal approximation errs by O(|z|³ D^{-3/2}) (0.013 measured)
      const wh = rel(chiQuantileWilsonHilferty(D, q), x);
      assert.ok(
        wh <= (0.02 * (1 + Math.abs(z) ** 3)) / D ** 1.5,
        `WH at D = ${D}, q = ${q}: ${wh}`,
      );
    }
    // the χ² median is D − 2/3 + O(1/D), so the χ median is √(D − 2/3)(1 + O(D⁻²)) (0.04/D² measured)
    const m = rel(chiQuantile(D, 0.5), Math.sqrt(D - 2 / 3));
    assert.ok(m <= 0.05 / D ** 2, `median at D = ${D}: ${m}`);
  }
});
