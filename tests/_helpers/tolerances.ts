/**
 * Every tolerance the tests use, each with the reason it is what it is (STYLE 7).
 * `rtol` scales with |expected|; `atol` covers values near zero.
 */

export interface Tolerance {
  rtol: number;
  atol: number;
  why: string;
}

export const tol = {
  exact: { rtol: 0, atol: 0, why: "bit-identical by construction (uniform bits, data movement)" },
  f64: {
    rtol: 1e-12,
    atol: 1e-12,
    why: "float64 reference against a closed form; only rounding differs",
  },
  f32Elementwise: {
    rtol: 2e-6,
    atol: 1e-6,
    why: "one float32 rounding per op; WGSL exp/log/sin may differ from V8's by a few ulp",
  },
  f32Reduction: {
    rtol: 1e-5,
    atol: 1e-5,
    why: "float32 sums of up to ~1000 terms in a different order than the float64 reference",
  },
  f32Grad: {
    rtol: 1e-4,
    atol: 1e-5,
    why: "f32 gradients: chains of ops, summation order differs on GPU",
  },
  f32Grad2: {
    rtol: 5e-4,
    atol: 5e-5,
    why: "f32 second-order gradients compound two chains of rounding",
  },
  f32SinusoidalFeatures: {
    rtol: 2e-6,
    atol: 1e-4,
    why:
      "sin/cos of s = 1000·t·ω for t ∈ [0, 1): the float32 argument (and ω) carry rounding up to 1000·2⁻²⁴ ≈ 6e-5, which passes straight to the features (2.3e-5 measured)",
  },
  finiteDiff: {
    rtol: 1e-6,
    atol: 1e-8,
    why:
      "central differences on float64 with ε = 1e-5 leave O(ε²) ≈ 1e-10 truncation plus 1e-11/ε rounding",
  },
  normalCrossBackend: {
    rtol: 1e-5,
    atol: 2e-6,
    why: "Box–Muller in float32 WGSL (log, cos) against float64 in TypeScript from the same bits",
  },
  odeAdaptiveF64: {
    rtol: 1e-5,
    atol: 1e-5,
    why:
      "DP5 (or BS3) solved at rtol = atol = 1e-6 against the exact solution: the global error stays within ~10× the local tolerance on these smooth problems (DP5 measured 0.24× forwards, 4.8× backwards through an e⁴ growth)",
  },
  odeAdaptiveF32: {
    rtol: 1e-4,
    atol: 1e-4,
    why:
      "DP5 solved at rtol = atol = 1e-5 in float32: 10× the solver tolerance; float32 rounding over ≤ 200 steps adds ~1e-5 more",
  },
  odeBatchInvariance: {
    rtol: 0,
    atol: 0,
    why:
      "per-example step control: example b takes the same steps alone or in a batch, and the reference's elementwise ops and per-row sums do not depend on B",
  },
  odeFixedStepF32: {
    rtol: 2e-5,
    atol: 2e-6,
    why:
      "the same fixed RK steps in float32 and float64: 20 steps × a few float32 roundings each, grown by the dynamics",
  },
  odeObservedOrder: {
    rtol: 0,
    atol: 0.1,
    why:
      "log2 of the error ratio when halving h, at N = 32 → 64 steps on the rotation, approaches p up to O(h) terms (Euler 1.09, DP5 5.006 measured)",
  },
} as const satisfies Record<string, Tolerance>;
