/**
 * Batched ODE integration with per-example adaptive step control (docs/MATH.md §2): each example b
 * has its own time t_b and step h_b, kept on the host in float64, so its trajectory — steps,
 * rejections, NFE and result — is the one it would have if solved alone, whatever the batch.
 * One host round trip per step: the [B] error norms.
 */

import {
  mul,
  noGrad,
  stopGradient,
  type Tensor,
  tensorWithHostCopy,
  tidy,
  where,
} from "../../compute/mod.ts";
import { perExample } from "../parameterization.ts";
import { errorMeanSquare, readNorms } from "./error_norm.ts";
import { initialStepSize } from "./initial_step.ts";
import { solveFixed } from "./fixed.ts";
import { type OdeFn, release, rkStep } from "./rk_step.ts";
import type { ButcherTableau } from "./tableaus.ts";

export type { OdeFn } from "./rk_step.ts";

export interface OdeOptions {
  tableau: ButcherTableau;
  /** Relative and absolute tolerances of the error norm (docs/MATH.md §2 default 1e-5). */
  rtol?: number;
  atol?: number;
  /** First step magnitude for every example; default: Hairer's heuristic (one extra f call). */
  h0?: number;
  /** Limit on batched step attempts (adaptive) before giving up; default 10 000. */
  maxSteps?: number;
  /** Take this many equal steps, with no error control and no readback. */
  fixedSteps?: number;
}

export interface OdeSolution {
  /** The state at t1, one fresh tensor per component (the caller disposes them). */
  y: Tensor[];
  /** Calls to f, each for the whole batch. */
  nfe: number;
  /** Batched step attempts: one per loop iteration, each evaluating every stage once. */
  steps: number;
  /** Rejected attempts summed over the examples (for B = 1: steps − accepted). */
  rejected: number;
  /** Calls to f while example b was still integrating: its NFE had it been solved alone. */
  nfePerExample: Int32Array;
  acceptedPerExample: Int32Array;
  rejectedPerExample: Int32Array;
}

// Step-size controller of docs/MATH.md §2 (Hairer I, §II.4).
const SAFETY = 0.9, MIN_FACTOR = 0.2, MAX_FACTOR = 10;

/**
 * Integrates dy/dt = f(t, y) from t0 to t1 (either direction). Embedded tableaus step
 * adaptively per example unless `fixedSteps` is given; others need `fixedSteps`. Never disposes
 * y0. The solver is not differentiable: its updates record no tape and f's outputs are used
 * detached. No tidy scope stays open across the one await per step, so solves may run
 * concurrently.
 *
 * @example
 * ```ts
 * import { mul, referenceBackend, tensor } from "../../compute/mod.ts";
 * import { DORMAND_PRINCE } from "./tableaus.ts";
 * const be = referenceBackend();
 * const y0 = tensor(be, [1, 2], [2, 1], "f64");
 * const f: OdeFn = (_t, [y]) => [mul(y, -1)]; // y' = −y
 * const options: OdeOptions = { tableau: DORMAND_PRINCE, rtol: 1e-6, atol: 1e-6 };
 * const sol: OdeSolution = await solveOde(f, [y0], 0, 1, options);
 * console.log(await sol.y[0].read(), sol.nfe); // ≈ [e⁻¹, 2e⁻¹], 2 + 6·steps
 * ```
 */
export async function solveOde(
  f: OdeFn,
  y0: Tensor[],
  t0: number,
  t1: number,
  options: OdeOptions,
): Promise<OdeSolution> {
  const { tableau: tab, rtol = 1e-5, atol = 1e-5, maxSteps = 10_000, fixedSteps, h0 } = options;
  if (y0.length === 0) throw new Error("solveOde: the state has no components");
  const B = y0[0].shape[0];
  for (const y of y0) {
    if (y.rank < 1 || y.shape[0] !== B || y.dtype !== y0[0].dtype || y.backend !== y0[0].backend) {
      throw new Error(
        `solveOde: every component needs leading dimension ${B}, one dtype, one backend`,
      );
    }
  }
  // times keep a host copy: the model's per-example coefficients then come from the host
  const upload = (v: ArrayLike<number>) => tensorWithHostCopy(y0[0].backend, v, [B], y0[0].dtype);
  const counts = {
    nfe: 0,
    steps: 0,
    rejected: 0,
    nfePerExample: new Int32Array(B),
    acceptedPerExample: new Int32Array(B),
    rejectedPerExample: new Int32Array(B),
  };
  if (fixedSteps !== undefined) {
    if (!Number.isInteger(fixedSteps) || fixedSteps < 1) {
      throw new Error(`solveOde: fixedSteps must be a positive integer, got ${fixedSteps}`);
    }
    const y = solveFixed(f, y0, t0, t1, tab, fixedSteps, upload, counts);
    counts.nfePerExample.fill(counts.nfe);
    counts.acceptedPerExample.fill(fixedSteps);
    return { y, ...counts };
  }
  if (!tab.bErr || tab.embeddedOrder === undefined) {
    throw new Error(`solveOde: ${tab.name} has no embedded error estimate; pass fixedSteps`);
  }
  if (t0 === t1 || B === 0) return { y: noGrad(() => y0.map((y) => mul(y, 1))), ...counts };

  const dir = Math.sign(t1 - t0), span = Math.abs(t1 - t0);
  const expo = 1 / (tab.embeddedOrder + 1);
  const t = new Float64Array(B).fill(t0);
  const done = new Uint8Array(B);
  const norm2 = (err: Tensor[], ya: Tensor[], yb: Tensor[]) =>
    noGrad(() => errorMeanSquare(err, ya, yb, rtol, atol));

  let k: Tensor[] | null = tidy(() => f(upload(t), y0).map(stopGradient));
  counts.nfe++;
  let hAbs: Float64Array;
  if (h0 !== undefined) {
    hAbs = new Float64Array(B).fill(Math.min(Math.abs(h0), span));
  } else {
    hAbs = await initialStepSize(f, y0, k, t0, t1, tab.order, rtol, atol);
    counts.nfe++;
  }
  counts.nfePerExample.fill(counts.nfe);

  let y = y0;
  try {
    while (done.some((d) => d === 0)) {
      if (counts.steps >= maxSteps) {
        const left = [...done.keys()].filter((b) => !done[b]).map((b) => `#${b} at t=${t[b]}`);
        throw new Error(
          `solveOde: ${maxSteps} steps did not reach t1=${t1} for ${left.join(", ")}`,
        );
      }
      const h = t.map((tb, b) => (done[b] ? 0 : dir * Math.min(hAbs[b], Math.abs(t1 - tb))));
      // The last stage (c = 1) sits exactly where the example will be, t1 included, and no
      // stage time leaves [t, t + h] by rounding.
      const tNext = t.map((tb, b) => (Math.abs(h[b]) === Math.abs(t1 - tb) ? t1 : tb + h[b]));
      const stageT = (c: number) =>
        t.map((tb, b) => {
          const s = c === 1 ? tNext[b] : tb + c * h[b];
          return dir > 0 ? Math.min(s, tNext[b]) : Math.max(s, tNext[b]);
        });
      // Sync scope for the stages; the one readback happens outside it.
      const cand = tidy(() => {
        const hT = upload(h);
        const s = rkStep(
          tab,
          f,
          y,
          k,
          (i) => upload(stageT(tab.c[i])),
          (c, v) => mul(v, perExample(hT, y[c])),
          true,
        );
        counts.nfe += s.calls;
        return {
          ms: norm2(s.err!, y, s.yNew),
          y: s.yNew,
          k: s.kLast && s.kLast.map(stopGradient),
          calls: s.calls,
        };
      });
      let next: { y: Tensor[]; k: Tensor[] | null };
      try {
        const [norms] = await readNorms([cand.ms]);
        const accept = advanceHost(norms, h, tNext, cand.calls);
        next = tidy(() => {
          const acc = upload(accept);
          return noGrad(() => ({
            y: cand.y.map((v, c) => where(perExample(acc, v), v, y[c])),
            k: cand.k && cand.k.map((v, c) => where(perExample(acc, v), v, k![c])),
          }));
        });
      } finally {
        cand.y.forEach((v) => v.dispose());
        cand.k?.forEach((v) => v.dispose());
      }
      release(y, y0);
      k?.forEach((v) => v.dispose());
      ({ y, k } = next);
    }
  } catch (e) {
    release(y, y0);
    k?.forEach((v) => v.dispose());
    throw e;
  }
  k?.forEach((v) => v.dispose());
  return { y, ...counts };

  // Accept where the RMS norm ≤ 1; new h = h·clamp(0.9·norm^(−1/(q+1)), 0.2, 10) (docs/MATH.md §2).
  function advanceHost(
    norms: Float64Array,
    h: Float64Array,
    tNext: Float64Array,
    calls: number,
  ): Float64Array {
    const accept = new Float64Array(B);
    counts.steps++;
    for (let b = 0; b < B; b++) {
      if (done[b]) continue;
      counts.nfePerExample[b] += calls;
      if (norms[b] <= 1) {
        accept[b] = 1;
        counts.acceptedPerExample[b]++;
        t[b] = tNext[b];
        done[b] = t[b] === t1 ? 1 : 0;
      } else {
        counts.rejected++;
        counts.rejectedPerExample[b]++;
      }
      // NaN (a blown-up stage) counts as a rejection with the smallest factor.
      const factor = Number.isNaN(norms[b]) ? MIN_FACTOR : SAFETY * norms[b] ** -expo;
      hAbs[b] = Math.abs(h[b]) * Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, factor));
      if (!done[b] && !(hAbs[b] > 4 * Number.EPSILON * Math.max(1, Math.abs(t[b])))) {
        throw new Error(`solveOde: step size underflow for example #${b} at t=${t[b]}`);
      }
    }
    return accept;
  }
}
