/**
 * Stochastic density guidance (Karczewski et al.; docs/MATH.md §5): inside a time window,
 * dx = u dt + φ(t) P dW̄ with P = I − ŝŝᵀ, φ = φ̃g and u = f x − ½g²(η − φ̃² τ/‖s‖²) s; outside
 * it, the density-guidance ODE. By §4's stochastic form, d log p = [∂_t log p + s·u −
 * ½φ² tr(P∇²log p)] dt + s·φP dW̄, and s·P = 0: with τ = tr(P∇²log p) = Δlog p − ŝᵀ∇²log p ŝ
 * (`exactCorrection`) the drift's extra s·u cancels the Itô term and log p follows the
 * deterministic guidance rate, so the mean shift is the ODE's. The published form takes
 * τ = Δlog p and omits ŝᵀ∇²log p ŝ; it then drifts by ½φ̃²g² ŝᵀ∇²log p ŝ dt, which raises log p
 * where p is concave along ŝ. Tracking always uses the exact Itô term, so the reported log p is
 * that of the path either way.
 *
 * Writing η − φ̃²τ/‖s‖² = 1 + k_eff/(σ²‖s‖²) with k_eff = k − φ̃²σ²τ, the drift is density
 * guidance with a per-example strength, and the same clamp (`clampedEta`) keeps it bounded near
 * a mode. The window is integrated by Euler–Maruyama on a grid uniform in λ (the guidance
 * acts at a constant rate per unit of λ); the noise-free parts by Dormand–Prince.
 */

import {
  add,
  div,
  type DivergenceMethod,
  full,
  maximum,
  mul,
  noGrad,
  type Rng,
  sqrt,
  sub,
  sumPerExample,
  type Tensor,
  tidy,
} from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { flowCoefs, scaledFlowRates, solveScaledFlow } from "../flow/scaled.ts";
import { perExample, scoreTerms, TINY_SCORE2 } from "../flow/score_terms.ts";
import {
  clampedEta,
  type DensityGuidanceOptions,
  densityGuidanceRule,
  guidanceStrength,
} from "./density.ts";
import { latentRadius, rescaleToNorm } from "./latents.ts";
import { logSnrGrid } from "../../sde/log_snr_grid.ts";
import { type FlowResult, runSegments, type Segment } from "../flow/segments.ts";

export interface StochasticGuidanceOptions extends DensityGuidanceOptions {
  /** φ̃, the noise relative to the reverse SDE's g */
  noise: number;
  /** [t0, t1], t_min ≤ t0 < t1 ≤ T: where noise is injected */
  window: [number, number];
  /** Euler–Maruyama steps across the window */
  steps: number;
  exactCorrection: boolean;
  /** noise (and, with Hutchinson, one fresh probe per step) */
  rng: Rng;
  /** global index of the first example, so draws do not depend on batching */
  firstIndex?: number;
}

/** One Euler–Maruyama step of [x, ℓ, w] from t by dt < 0 with standard normals ξ. */
function emStep(
  score: ScoreFn,
  sde: Sde,
  [x, ell, w]: Tensor[],
  t: number,
  dt: number,
  k: number,
  o: StochasticGuidanceOptions,
  xi: Tensor,
  laplacian: DivergenceMethod,
): Tensor[] {
  const B = x.shape[0], phi2 = o.noise * o.noise;
  const tT = full(x.backend, [B], t, x.dtype);
  const terms = scoreTerms(score, x, tT, laplacian, true);
  const c = flowCoefs(sde, tT);
  const trP = sub(terms.lap, terms.sHs!); // tr(P∇²log p)
  const kEff = sub(k, mul(mul(c.sigma2, o.exactCorrection ? trP : terms.lap), phi2));
  const { eta, target } = clampedEta(kEff, terms, c);
  const r = scaledFlowRates(x, terms, c, eta, target);
  // −½ tr(GGᵀ∇²log p) with G = φ̃gP
  const dEll = sub(r.dEll, mul(mul(c.g2, 0.5 * phi2), trP));
  // P ξ = ξ − ŝ(ŝ·ξ): noise orthogonal to the score, so s·G dW̄ vanishes (up to rounding)
  const sHat = div(terms.s, perExample(sqrt(maximum(terms.sn2, TINY_SCORE2)), x));
  const pXi = sub(xi, mul(sHat, perExample(sumPerExample(mul(sHat, xi)), x)));
  const amp = o.noise * Math.sqrt(sde.diffusion2(t) * Math.abs(dt));
  return [
    add(add(x, mul(r.dx, dt)), mul(pXi, amp)),
    add(add(ell, mul(dEll, dt)), mul(sumPerExample(mul(terms.s, pXi)), amp)),
    add(w, mul(r.dW, dt)),
  ];
}

/** Guided sampling with noise inside the window; x_T (not consumed) starts at the median norm. */
export async function stochasticGuidanceSample(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  o: StochasticGuidanceOptions,
): Promise<FlowResult> {
  const D = xT.size / xT.shape[0], B = xT.shape[0];
  const [t0, t1] = o.window;
  if (!(o.tMin <= t0 && t0 < t1 && t1 <= sde.T)) {
    throw new RangeError(`noise window [${t0}, ${t1}] must satisfy t_min ≤ t0 < t1 ≤ T`);
  }
  const k = guidanceStrength(D, o.q);
  const rule = densityGuidanceRule(D, o.q);
  const ode = (from: number, to: number): Segment => (y) =>
    solveScaledFlow(score, sde, y, from, to, rule, true, o);
  const noisy: Segment = (y) => {
    const grid = logSnrGrid(sde, t1, t0, o.steps);
    const at = (o.firstIndex ?? 0) * D;
    let cur = y;
    for (let i = 0; i < o.steps; i++) {
      const next = tidy(() =>
        noGrad(() => {
          const xi = o.rng.derive("noise").derive(i).at(at).normal(xT.backend, xT.shape, xT.dtype);
          const lap: DivergenceMethod = o.divergence.method === "exact" ? o.divergence : {
            method: "hutchinson",
            probe: o.rng.derive("probe").derive(i).at(at).rademacher(
              xT.backend,
              xT.shape,
              xT.dtype,
            ),
          };
          return emStep(score, sde, cur, grid[i], grid[i + 1] - grid[i], k, o, xi, lap);
        })
      );
      if (cur !== y) cur.forEach((v) => v.dispose());
      cur = next;
    }
    return Promise.resolve({
      y: cur,
      nfe: o.steps,
      nfePerExample: new Int32Array(B).fill(o.steps),
      steps: o.steps,
    });
  };
  const segments: Segment[] = [];
  if (t1 < sde.T) segments.push(ode(sde.T, t1));
  segments.push(noisy);
  if (t0 > o.tMin) segments.push(ode(t0, o.tMin));
  const start = tidy(() => rescaleToNorm(xT, latentRadius(sde, D, 0.5)));
  try {
    return await runSegments(sde, start, segments, o.terminalLogp);
  } finally {
    start.dispose();
  }
}
