/**
 * Latent optimisation for log-density (docs/density_guidance.md §2): move each latent x_T so
 * that the PF-ODE sample x_0(x_T) reaches a target log p_0 = V, by gradient descent through
 * the solver itself. Per example, with z = x_T/σ_T the standardised latent,
 *   J(z) = ½(log p_0(x_0(σ_T z)) − V)² + λ(‖z‖ − √D)²,
 * the second term keeping ‖z‖ on the prior's typical shell (a latent near the origin is as
 * atypical for N(0, I) as the mode of a high-dimensional Gaussian).
 *
 * x_0(x_T) is a fixed-step Dormand–Prince solve recorded on the tape, so the gradient is the
 * exact derivative of the discrete map (direct backpropagation, "discretise then
 * differentiate"). log p_0 is the model's closed form at t_min where it has one (analytic
 * mixtures), else the PF-ODE likelihood of the same trajectory: log p_T(x_T) + ∫ −∇·u dt,
 * with ∇·u exact or Hutchinson (one probe fixed for the run), differentiated too (second-order
 * autodiff). Each example is optimised independently (the objective sums over the batch and
 * nothing couples the examples), by Adam on z with a step size decayed by a half cosine from
 * `lr` to 0 over the iterations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * const sde = makeSde("vp");
 * const model = GmmModel.isotropic({ weights: [1], means: [[0, 0, 0, 0]], stds: [0.5] }, sde);
 * const xT = Rng.fromSeed(0).normal(referenceBackend(), [2, 4], "f64");
 * const r = await optimizeLatent((x, t) => model.score(x, t), sde, xT, {
 *   targetLogp: -2, iters: 60, lr: 0.1, priorWeight: 0.1, steps: 4, tMin: sde.tMinSampling,
 *   divergence: { method: "exact" }, exactLogp: (x, t) => model.logp(x, t),
 * });
 * assert.ok(r.logp.every((l) => Math.abs(l + 2) < 0.3)); // near the target, short of it by λ's pull
 * ```
 */

import {
  add,
  divergence,
  type DivergenceMethod,
  keep,
  maximum,
  mul,
  neg,
  noGrad,
  sqrt,
  square,
  stopGradient,
  sub,
  sum,
  sumPerExample,
  type Tensor,
  tensor,
  tensorWithHostCopy,
  tidy,
  valueAndGrad,
  weightedSum,
} from "../../compute/mod.ts";
import { pfOdeDrift, type ScoreFn } from "../../sde/likelihood.ts";
import { DORMAND_PRINCE } from "../../sde/ode/tableaus.ts";
import { priorLogp } from "../../sde/prior.ts";
import type { Sde } from "../../sde/sde.ts";
import { ADAM_DEFAULT, adamStep, initAdam } from "../../compute/optim/adam.ts";
import type { FlowResult } from "../flow/segments.ts";

export interface LatentOptimizationOptions {
  /** V, the log p_0 to reach (nats): one for every example, or one per example */
  targetLogp: number | readonly number[];
  /** Adam steps */
  iters: number;
  /** Adam's initial step size on z = x_T/σ_T */
  lr: number;
  /** λ of λ(‖z‖ − √D)² */
  priorWeight: number;
  /** fixed Dormand–Prince steps from T to t_min */
  steps: number;
  tMin: number;
  /** ∇·u for the PF-ODE likelihood (used only without `exactLogp`) */
  divergence: DivergenceMethod;
  /** the model's closed-form log p_t; when given it measures log p_0 */
  exactLogp?: (x: Tensor, t: Tensor) => Tensor;
  /** log p_T for the PF-ODE likelihood; default the process's prior π */
  terminalLogp?: (xT: Tensor) => Tensor;
}

/** One iteration's state, per example: before its Adam step (the last: after the last step). */
export interface IterationRecord {
  iter: number;
  logp: Float64Array;
  /** ‖x_T‖/(σ_T√D): 1 on the prior's typical shell */
  normRatio: Float64Array;
  objective: Float64Array;
}

export interface LatentOptimizationResult extends FlowResult {
  /** the optimised x_T, row-major */
  latent: Float64Array;
  /** iterations 0 … iters (iters + 1 records) */
  history: IterationRecord[];
  /** how log p_0 was measured */
  logpBy: "closed-form" | "pf-ode";
}

/**
 * x_0 from x_T by `steps` fixed Dormand–Prince steps of the PF-ODE, every operation recorded
 * on the tape (differentiable in x_T); with `track`, also ℓ = initial + ∫_T^{t_min} −∇·u dt.
 * Dormand–Prince is FSAL: a step's last stage is the next one's first, so NFE = 6·steps + 1.
 */
export function differentiablePfOde(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  tMin: number,
  steps: number,
  track?: { initial: Tensor; divergence: DivergenceMethod },
): { x0: Tensor; ell: Tensor | null; nfe: number } {
  const tab = DORMAND_PRINCE, drift = pfOdeDrift(score, sde);
  const B = xT.shape[0], h = (tMin - sde.T) / steps;
  const at = (t: number) =>
    tensorWithHostCopy(xT.backend, new Float64Array(B).fill(t), [B], xT.dtype);
  const f = (t: Tensor, x: Tensor): [Tensor, Tensor | null] => {
    if (!track) return [drift(x, t), null];
    const { value, div } = divergence((y) => drift(y, t), x, track.divergence);
    return [value, neg(div)];
  };
  let x = xT, ell = track ? track.initial : null, nfe = 0;
  let first: [Tensor, Tensor | null] | null = null;
  for (let i = 0; i < steps; i++) {
    const tn = sde.T + i * h;
    const ks: [Tensor, Tensor | null][] = [first ?? f(at(tn), x)];
    if (!first) nfe++;
    const combine = (w: readonly number[], c: 0 | 1, base: Tensor) => {
      const used = w.flatMap((wj, j) => (wj === 0 ? [] : [j]));
      if (used.length === 0) return base;
      return add(base, mul(weightedSum(used.map((j) => ks[j][c]!), used.map((j) => w[j])), h));
    };
    let xi = x, elli = ell;
    for (let s = 1; s < tab.c.length; s++) {
      xi = combine(tab.a[s], 0, x);
      if (ell) elli = combine(tab.a[s], 1, ell);
      const ts = i === steps - 1 && tab.c[s] === 1 ? tMin : tn + tab.c[s] * h;
      ks.push(f(at(ts), xi));
      nfe++;
    }
    // DP5 is FSAL: the last stage's input is the new state, its derivative the next first stage
    x = xi;
    ell = elli;
    first = tab.fsal ? ks[ks.length - 1] : null;
  }
  return { x0: x, ell, nfe };
}

/** ‖z‖ per example, with the gradient at z = 0 kept finite. */
function norms(z: Tensor): Tensor {
  return sqrt(maximum(sumPerExample(square(z)), 1e-30));
}

/**
 * Optimises each latent of `xT` (not consumed) as the file comment says; returns x_0 of the
 * final latents with their log p_0, the latents, and the per-iteration history.
 */
export async function optimizeLatent(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  o: LatentOptimizationOptions,
): Promise<LatentOptimizationResult> {
  const B = xT.shape[0], D = xT.size / B, sigmaT = sde.priorStd, rootD = Math.sqrt(D);
  const z = keep(tidy(() => noGrad(() => mul(xT, 1 / sigmaT))));
  const adam = initAdam(z);
  const adamConfig = { ...ADAM_DEFAULT, lr: o.lr };
  const history: IterationRecord[] = [];
  const V = o.targetLogp;
  if (typeof V !== "number" && V.length !== B) {
    throw new RangeError(`optimizeLatent: ${V.length} targets for a batch of ${B}`);
  }
  const target = (x: Tensor) =>
    typeof V === "number" ? V : tensor(x.backend, Float64Array.from(V), [B], x.dtype);
  let nfe = 0;
  let last: { x0: Float64Array; logp: Float64Array; terminal: Float64Array } | null = null;
  try {
    for (let iter = 0; iter <= o.iters; iter++) {
      const step = tidy(() => {
        let logp!: Tensor, x0!: Tensor, terminal!: Tensor, per!: Tensor;
        const { grad } = valueAndGrad((zz: Tensor) => {
          const x = mul(zz, sigmaT);
          const initial = (o.terminalLogp ?? ((y: Tensor) => priorLogp(sde, y)))(x);
          const track = o.exactLogp ? undefined : { initial, divergence: o.divergence };
          const sol = differentiablePfOde(score, sde, x, o.tMin, o.steps, track);
          nfe += sol.nfe;
          const lp = o.exactLogp
            ? o.exactLogp(sol.x0, tensor(x.backend, new Float64Array(B).fill(o.tMin), [B], x.dtype))
            : sol.ell!;
          const J = add(
            mul(square(sub(lp, target(x))), 0.5),
            mul(square(sub(norms(zz), rootD)), o.priorWeight),
          );
          logp = stopGradient(lp);
          x0 = stopGradient(sol.x0);
          terminal = stopGradient(initial);
          per = stopGradient(J);
          return sum(J);
        })(z);
        return { grad, logp, x0, terminal, per, norm: noGrad(() => mul(norms(z), 1 / rootD)) };
      });
      try {
        const [lp, x0, terminal, per, norm] = await Promise.all(
          [step.logp, step.x0, step.terminal, step.per, step.norm].map((t) => t.read()),
        );
        const record = {
          iter,
          logp: Float64Array.from(lp),
          normRatio: Float64Array.from(norm),
          objective: Float64Array.from(per),
        };
        history.push(record);
        if (!record.objective.every(Number.isFinite)) {
          throw new Error(
            `latent optimisation diverged at iteration ${iter} (objective ${record.objective}); ` +
              `lower --lr (now ${o.lr})`,
          );
        }
        last = {
          x0: Float64Array.from(x0),
          logp: record.logp,
          terminal: Float64Array.from(terminal),
        };
        if (iter < o.iters) {
          // half-cosine decay from lr to 0: large moves first, then settling on the optimum
          const lr = 0.5 * o.lr * (1 + Math.cos((Math.PI * iter) / o.iters));
          adamStep(z, step.grad, adam, adamConfig, lr);
        }
      } finally {
        Object.values(step).forEach((t) => t.dispose());
      }
    }
    const latent = Float64Array.from(await z.read(), (v) => v * sigmaT);
    const perSolve = Math.round(nfe / (o.iters + 1));
    return {
      x: last!.x0,
      logp: last!.logp,
      terminalLogp: last!.terminal,
      withheld: new Float64Array(B),
      nfe: perSolve,
      nfePerExample: new Int32Array(B).fill(perSolve),
      steps: o.steps,
      latent,
      history,
      logpBy: o.exactLogp ? "closed-form" : "pf-ode",
    };
  } finally {
    z.dispose();
    adam.m.dispose();
    adam.v.dispose();
  }
}
