/**
 * Host float64 special functions: erf/erfc/erfcx (Cody 1969), the normal CDF and its
 * logarithm, Φ⁻¹ (Wichura 1988, AS241), and the χ_D quantile through the regularized
 * incomplete gamma function. Used for truncated-normal dequantisation (Z_τ = erf(τ/√2)),
 * density guidance (Φ⁻¹(q)) and latent rescaling (χ_D⁻¹(q)); docs/MATH.md §2, §5.
 *
 * Math.log1p and Math.expm1 are accurate to an ulp in V8 (fdlibm's algorithms), so they are
 * used directly; no wrappers are needed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-15);
 * const median = chiQuantile(3072, 0.5); // ≈ √(3072 − 2/3)
 * assert.ok(Math.abs(median - Math.sqrt(3072 - 2 / 3)) < 1e-6);
 * ```
 */

/** Ascending-power Horner: c[0] + c[1]z + c[2]z² + … */
function poly(c: readonly number[], z: number): number {
  let s = 0;
  for (let i = c.length - 1; i >= 0; i--) s = s * z + c[i];
  return s;
}

const INV_SQRT_PI = 0.56418958354775628695;
/** Cody's first interval: erf(x) = x·A(x²)/B(x²) for |x| ≤ 0.46875. */
const ERF_SPLIT = 0.46875;
// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
// (1969) 631–637, near-minimax coefficients (as published in his SPECFUN package, 1990),
// rearranged here into ascending powers.
// deno-fmt-ignore
const ERF_A = [
  3209.37758913846947, 377.485237685302021, 113.864154151050156, 3.16112374387056560,
  0.185777706184603153,
];
// deno-fmt-ignore
const ERF_B = [
  2844.23683343917062, 1282.61652607737228, 244.024637934444173, 23.6012909523441209, 1,
];
/** e^{x²}erfc(x) = C(x)/D(x) on (0.46875, 4]. */
// deno-fmt-ignore
const ERFCX_C = [
  1230.33935479799725, 2051.07837782607147, 1712.04761263407058, 881.952221241769090,
  298.635138197400131, 66.1191906371416295, 8.88314979438837594, 0.564188496988670089,
  2.15311535474403846e-8,
];
// deno-fmt-ignore
const ERFCX_D = [
  1230.33935480374942, 3439.36767414372164, 4362.61909014324716, 3290.79923573345963,
  1621.38957456669019, 537.181101862009858, 117.693950891312499, 15.7449261107098347, 1,
];
/** x·e^{x²}erfc(x) = 1/√π − z·P(z)/Q(z), z = 1/x², beyond 4. */
// deno-fmt-ignore
const ERFCX_P = [
  6.58749161529837803e-4, 1.60837851487422766e-2, 1.25781726111229246e-1, 3.60344899949804439e-1,
  3.05326634961232344e-1, 1.63153871373020978e-2,
];
// deno-fmt-ignore
const ERFCX_Q = [
  2.33520497626869185e-3, 6.05183413124413191e-2, 5.27905102951428412e-1, 1.87295284992346047,
  2.56852019228982242, 1,
];

/** e^{x²}erfc(x) for x > 0.46875, where erfc has no cancellation. */
function erfcxPositive(x: number): number {
  if (x <= 4) return poly(ERFCX_C, x) / poly(ERFCX_D, x);
  const z = 1 / (x * x);
  return (INV_SQRT_PI - (z * poly(ERFCX_P, z)) / poly(ERFCX_Q, z)) / x;
}

/**
 * e^{−c x²} for c ∈ {1, ½}. Rounding x² first would cost a relative error x²·2⁻⁵³ (1e-13 at
 * x = 26); with x = h + l, h = ⌊16x⌋/16, c·h² is exact and only the small c·l(x + h) rounds.
 */
function expNegScaledSquare(x: number, c: number): number {
  const h = Math.trunc(x * 16) / 16;
  return Math.exp(-c * h * h) * Math.exp(-c * (x - h) * (x + h));
}

/** erf(x) = (2/√π)∫₀ˣ e^{−t²} dt, relative error ~1e-16 everywhere. */
export function erf(x: number): number {
  const y = Math.abs(x);
  if (y <= ERF_SPLIT) return (x * poly(ERF_A, x * x)) / poly(ERF_B, x * x);
  const r = y > 6 ? 1 : 1 - erfcxPositive(y) * expNegScaledSquare(y, 1);
  return x < 0 ? -r : r;
}

/** erfc(x) = 1 − erf(x), with full relative accuracy in the upper tail (to the underflow at 26.6). */
export function erfc(x: number): number {
  const y = Math.abs(x);
  if (y <= ERF_SPLIT) return 1 - (x * poly(ERF_A, x * x)) / poly(ERF_B, x * x);
  const e = y > 28 ? 0 : erfcxPositive(y) * expNegScaledSquare(y, 1);
  return x < 0 ? 2 - e : e;
}

/** The scaled complement e^{x²}erfc(x) ≈ 1/(x√π), finite where erfc underflows (x ≥ 0). */
export function erfcx(x: number): number {
  if (x > ERF_SPLIT) return erfcxPositive(x);
  return Math.exp(x * x) * erfc(x);
}

/** Φ(x) = ½ erfc(−x/√2), accurate in relative terms for x → −∞ (down to Φ ≈ 1e-308). */
export function normalCdf(x: number): number {
  const u = -x * Math.SQRT1_2;
  if (u > ERF_SPLIT) return u > 40 ? 0 : 0.5 * erfcxPositive(u) * expNegScaledSquare(x, 0.5);
  return 0.5 * erfc(u);
}

/** ln Φ(x), finite for every finite x: ln(½ erfcx(−x/√2)) − x²/2 in the lower tail. */
export function logNormalCdf(x: number): number {
  const u = -x * Math.SQRT1_2;
  if (u > ERF_SPLIT) return Math.log(0.5 * erfcxPositive(u)) - 0.5 * x * x;
  return x > 5 ? Math.log1p(-normalCdf(-x)) : Math.log(normalCdf(x));
}

// M. J. Wichura, "Algorithm AS 241: The percentage points of the normal distribution",
// Applied Statistics 37 (1988) 477–484, PPND16 (about 1 part in 10¹⁶), ascending powers.
// deno-fmt-ignore
const PPND_A = [
  3.3871328727963666080, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
  45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727,
];
// deno-fmt-ignore
const PPND_B = [
  1, 42.313330701600911252, 687.18700749205790830, 5394.1960214247511077, 21213.794301586595867,
  39307.895800092710610, 28729.085735721942674, 5226.4952788528545610,
];
// deno-fmt-ignore
const PPND_C = [
  1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550, 3.64784832476320460504,
  1.27045825245236838258, 0.241780725177450611770, 0.0227238449892691845833,
  7.74545014278341407640e-4,
];
// deno-fmt-ignore
const PPND_D = [
  1, 2.05319162663775882187, 1.67638483018380384940, 0.689767334985100004550,
  0.148103976427480074590, 0.0151986665636164571966, 5.47593808499534494600e-4,
  1.05075007164441684324e-9,
];
// deno-fmt-ignore
const PPND_E = [
  6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580, 0.296560571828504891230,
  0.0265321895265761230930, 0.00124266094738807843860, 2.71155556874348757815e-5,
  2.01033439929228813265e-7,
];
// deno-fmt-ignore
const PPND_F = [
  1, 0.599832206555887937690, 0.136929880922735805310, 0.0148753612908506148525,
  7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
  2.04426310338993978564e-15,
];

/** Φ⁻¹(p): three rational approximations, in q = p − ½ near the centre and r = √(−ln p) in the tails. */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], found ${p}`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(PPND_A, r)) / poly(PPND_B, r);
  }
  // the smaller tail mass; 1 − p is exact for p > ½
  const tail = q < 0 ? p : 1 - p;
  if (tail === 0) return q < 0 ? -Infinity : Infinity;
  const r = Math.sqrt(-Math.log(tail));
  const x = r <= 5
    ? poly(PPND_C, r - 1.6) / poly(PPND_D, r - 1.6)
    : poly(PPND_E, r - 5) / poly(PPND_F, r - 5);
  return q < 0 ? -x : x;
}

/** Σ(z) in ln Γ(z + 1) = z ln z − z + ½ ln(2πz) + Σ(z): the Stirling series, for z ≥ 10. */
function stirlingTail(z: number): number {
  const w = 1 / (z * z);
  // B_{2k}/(2k(2k − 1)z^{2k−1}) for k = 1…7; the k = 8 term is below 3e-17 at z = 10
  return poly([1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156], w) / z;
}

/** ln Γ(a + 1) for a > −1, shifting a up to the Stirling range first. */
function logGamma1p(a: number): number {
  let shift = 0;
  let z = a;
  for (; z < 10; z++) shift += Math.log(z + 1);
  return z * Math.log(z) - z + 0.5 * Math.log(2 * Math.PI * z) + stirlingTail(z) - shift;
}

/** δ − ln(1 + δ) ≥ 0 without cancellation: with w = δ/(2 + δ), it is wδ − 2Σ_{k≥1} w^{2k+1}/(2k+1). */
function log1pmxNeg(d: number): number {
  if (Math.abs(d) > 0.5) return d - Math.log1p(d);
  const w = d / (2 + d), w2 = w * w;
  let term = w, sum = 0;
  for (let k = 3; Math.abs(term) > 1e-18 * Math.abs(w * d); k += 2) {
    term *= w2;
    sum += term / k;
  }
  return w * d - 2 * sum;
}

/** Γ(a + 1) for a < 10 by the recurrence Γ(z + 1) = zΓ(z): an exact product for the integer and half-integer a of χ_D. */
function gamma1pSmall(a: number): number {
  let g = 1, z = a;
  for (; z >= 1; z--) g *= z;
  return z === 0 ? g : z === 0.5 ? g * 0.5 * Math.sqrt(Math.PI) : g * Math.exp(logGamma1p(z));
}

/**
 * ln(yᵃe^{−y}/Γ(a + 1)), the factor shared by P(a, y), Q(a, y) and the χ density. For large a
 * it is −a(δ − ln(1 + δ)) − Σ(a) − ½ln(2πa) with δ = y/a − 1 (Temme 1979): the direct
 * a ln y − y − ln Γ(a + 1) would cancel to ~a·2⁻⁵³ absolute, 1e-11 at D = 1e5. `logY` is
 * passed where y = x²/2 itself would underflow (tiny χ quantiles).
 */
function logPrefactor(a: number, y: number, logY = Math.log(y)): number {
  if (a < 10) return a * logY - y - Math.log(gamma1pSmall(a));
  // (y − a)/a, not y/a − 1: the subtraction is exact near y = a, the rounded quotient is not
  return -a * log1pmxNeg((y - a) / a) - stirlingTail(a) - 0.5 * Math.log(2 * Math.PI * a);
}

/**
 * ln P(a, y) and ln Q(a, y) (P + Q = 1), finite where P or Q underflow: the power series
 * P = pre·Σ yⁿ/((a+1)…(a+n)) below y = a, Legendre's continued fraction for Q above it
 * (Numerical Recipes §6.2), both O(√a) terms; `logPre` is ln pre. Switching at a rather than
 * NR's a + 1 keeps the complement small where it is formed (P ≲ ½ under the series, Q ≲ ½
 * under the fraction, up to 0.68 at a = ½), so both keep their relative accuracy; the
 * fraction's first denominator y + 1 − a stays ≥ 1.
 */
function logGammaPQ(a: number, y: number, logY?: number) {
  const logPre = logPrefactor(a, y, logY);
  if (y < a) {
    let term = 1, sum = 1;
    for (let n = 1; n < 100000 && term > 1e-17 * sum; n++) sum += term *= y / (a + n);
    const logP = logPre + Math.log(sum);
    return { logP, logQ: Math.log1p(-Math.exp(logP)), logPre };
  }
  // (beyond y = 100 the fraction converges in a few steps, and yʲ could overflow the sum)
  if (a < 10 && Number.isInteger(2 * a) && y < 100) {
    const logQ = -y + Math.log(finiteQSum(a, y));
    return { logP: Math.log1p(-Math.exp(logQ)), logQ, logPre };
  }
  // Q = a·pre · 1/(y+1−a − 1(1−a)/(y+3−a − 2(2−a)/(y+5−a − …))), by the modified Lentz method
  const tiny = 1e-300;
  let b = y + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (let n = 1; n < 100000; n++) {
    const an = -n * (n - a);
    b += 2;
    d = an * d + b;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    h *= d * c;
    if (Math.abs(d * c - 1) < 1e-16) break;
  }
  const logQ = logPre + Math.log(a * h);
  return { logP: Math.log1p(-Math.exp(logQ)), logQ, logPre };
}

/**
 * e^{y}Q(a, y) for integer and half-integer a (χ_D with D < 20), as a finite sum of positive
 * terms: Σ_{j<a} yʲ/j! (the Poisson tail), or erfcx(√y) + Σ_{j<a−½} y^{j+½}/Γ(j + 3/2).
 * The continued fraction is slow near y ≈ a for small a and its ~150 rounded products
 * would cost Q a few 1e-15.
 */
function finiteQSum(a: number, y: number): number {
  const half = !Number.isInteger(a);
  let term = half ? 2 * Math.sqrt(y / Math.PI) : 1, sum = half ? erfcx(Math.sqrt(y)) : 0;
  for (let j = half ? 0.5 : 0; j < a; j++) {
    sum += term;
    term *= y / (j + 1);
  }
  return sum;
}

/** The regularized incomplete gamma functions P(a, y) and Q(a, y) = 1 − P, each to ~1e-15 relative. */
export function regularizedGamma(a: number, y: number): { p: number; q: number } {
  if (!(a > 0) || !(y >= 0)) {
    throw new RangeError(`regularizedGamma: needs a > 0 and y ≥ 0, found a = ${a}, y = ${y}`);
  }
  if (y === Infinity) return { p: 1, q: 0 };
  const { logP, logQ } = logGammaPQ(a, y);
  return { p: Math.exp(logP), q: Math.exp(logQ) };
}

/** The χ_D distribution's CDF P(D/2, x²/2) and survival function Q(D/2, x²/2). */
export function chiCdf(D: number, x: number): { p: number; q: number } {
  if (!(D > 0)) throw new RangeError(`chiCdf: D must be > 0, found ${D}`);
  if (x <= 0 || x === Infinity) return x <= 0 ? { p: 0, q: 1 } : { p: 1, q: 0 };
  // ln y from x, since y = x²/2 underflows for x < 1e-162 while P(D/2, y) may not
  const { logP, logQ } = logGammaPQ(D / 2, 0.5 * x * x, 2 * Math.log(x) - Math.LN2);
  return { p: Math.exp(logP), q: Math.exp(logQ) };
}

/** √ of Wilson & Hilferty's (1931) χ²_D quantile D(1 − 2/9D + z√(2/9D))³, z = Φ⁻¹(q), clamped at 0. */
export function chiQuantileWilsonHilferty(D: number, q: number): number {
  const v = 2 / (9 * D);
  const base = 1 - v + normalQuantile(q) * Math.sqrt(v);
  return base > 0 ? Math.sqrt(D) * base ** 1.5 : 0;
}

/**
 * χ_D⁻¹(q): the x with P(D/2, x²/2) = q. Newton's method on ln P against ln x, nearly linear
 * in the lower tail (P ≈ x^D/(2^{D/2}Γ(D/2+1))), where Newton on P itself crawls; above the
 * median on ln Q = ln(1 − q), so upper-tail quantiles keep their accuracy. Started at
 * Wilson–Hilferty, or at the small-x asymptote where that fails, and kept inside a bracket.
 */
export function chiQuantile(D: number, q: number): number {
  if (!(D > 0 && Number.isFinite(D))) {
    throw new RangeError(`chiQuantile: D must be finite and > 0, found ${D}`);
  }
  if (!(q >= 0 && q <= 1)) throw new RangeError(`chiQuantile: q must be in [0, 1], found ${q}`);
  if (q === 0) return 0;
  if (q === 1) return Infinity;
  const a = D / 2, upper = q > 0.5, logTarget = upper ? Math.log1p(-q) : Math.log(q);
  let x = chiQuantileWilsonHilferty(D, q);
  if (!(x > 0.1 * Math.sqrt(D))) {
    x = Math.exp(0.5 * (Math.LN2 + (logTarget + logGamma1p(a)) / a));
  }
  let lo = 0, hi = Infinity;
  for (let i = 0; i < 100; i++) {
    const r = logGammaPQ(a, 0.5 * x * x, 2 * Math.log(x) - Math.LN2);
    const h = upper ? logTarget - r.logQ : r.logP - logTarget; // increasing in x
    if (h === 0) return x;
    if (h < 0) lo = x;
    else hi = x;
    // dh/d ln x = x·density/P (or /Q), the density being 2a·pre/x
    const step = h / (2 * a * Math.exp(r.logPre - (upper ? r.logQ : r.logP)));
    const next = x * Math.exp(-step);
    if (next > lo && next < hi) {
      // quadratic convergence: once a step is this small, the one just taken is exact to rounding
      if (Math.abs(step) <= 1e-13) return next;
      x = next;
    } else x = hi === Infinity ? 2 * x : lo === 0 ? x / 2 : Math.sqrt(lo * hi);
  }
  return x;
}

/** sigmoid(x) = 1/(1 + e^{−x}) in the branch that never forms 1 − (something near 1). */
export function sigmoidHost(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
