/**
 * e^x without branches on x, for the cpu backend's float32 kernels (exp, sigmoid, SiLU and its
 * gradient). `Math.exp` branches on the argument's range inside and evaluates a long polynomial;
 * on activations, whose signs are mixed at random, SiLU through it cost several times its
 * arithmetic.
 *
 * e^x = 2^(k/64) · e^r with k = round(64 x / ln 2) and |r| ≤ ln 2 / 128: 2^(k/64) is
 * 2^⌊k/64⌋ · 2^((k mod 64)/64), two small tables, and e^r its Taylor polynomial of degree 4
 * (truncation r⁵/5! < 4e-14 relative). Wherever the result is a normal float64 the relative
 * error stays near 4e-14, so a float32 result matches `Math.exp`'s but for a rare last-bit tie.
 */

// 64 / ln 2, and ln 2 / 64 in two parts: k · LN2_64_HI is exact for |k| < 2^17, so r keeps its
// low bits
const INV_LN2_64 = 64 / Math.LN2;
const LN2_64_HI = 0.6931471803691238 / 64;
const LN2_64_LO = 1.9082149292705877e-10 / 64;
/** Adding and subtracting 1.5 · 2^52 rounds a double to the nearest integer, without a branch. */
const ROUND = 6755399441055744;
/** Arguments are clamped to [LOW, HIGH]: below, e^x underflows to 0; above, it overflows. */
const LOW = -746, HIGH = 710;
/** POW2[e + BIAS] = 2^e for every e a clamped argument yields (2^−1077 is 0, 2^1024 ∞). */
const BIAS = 1100;
const POW2 = new Float64Array(2200);
for (let i = 0; i < POW2.length; i++) POW2[i] = 2 ** (i - BIAS);
/** FRACTION[j] = 2^(j/64) */
const FRACTION = new Float64Array(64);
for (let j = 0; j < 64; j++) FRACTION[j] = 2 ** (j / 64);

/** e^x; NaN stays NaN, ±∞ gives ∞ and 0. */
export function exp(x: number): number {
  const xc = Math.max(LOW, Math.min(HIGH, x));
  const k = (xc * INV_LN2_64 + ROUND) - ROUND;
  const ki = k | 0;
  const r = (xc - k * LN2_64_HI) - k * LN2_64_LO;
  const p = 1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24))));
  // k = 64 ⌊k/64⌋ + (k mod 64): the arithmetic shift floors, the mask is the remainder
  return p * FRACTION[ki & 63] * POW2[(ki >> 6) + BIAS];
}
