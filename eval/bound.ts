/**
 * The ScoreFlow per-example upper bound on −log p(x) (Song et al. 2021, "Maximum likelihood
 * training of score-based diffusion models"; MATH.md §2):
 *
 *   −log p(x) ≤ E[−log π(x_T)] + ½∫_{t_min}^T E[g²(‖s − ∇log p_0t‖² − ‖∇log p_0t‖²) − 2∇·f] dt + offset
 *
 * with x_t = α_t x + σ_t z and ∇log p_0t = −z/σ_t. Times are importance-sampled uniformly in
 * λ (p(t) ∝ g²/σ², normaliser Z = λ(t_min) − λ(T)), turning the g² term into ½Z(‖σs + z‖² −
 * ‖z‖²). The prior term and the ∫−∇·f = −D ln(α_T/α_{t_min}) term are exact; the offset is
 * the Gaussian decoder at t_min minus the entropy of q(x_{t_min} | x).
 */

import {
  add,
  mul,
  reshape,
  type Rng,
  slice,
  square,
  sub,
  sumPerExample,
  type Tensor,
  tensor,
  tidy,
} from "../compute/mod.ts";
import type { DiffusionModel } from "../sde/model.ts";

export interface BoundOptions {
  tMin: number;
  /** importance-sampled (t, z) pairs per example (ScoreFlow uses 1000) */
  samples: number;
  /** keyed stream: example i draws from counters starting at i·(per-example count) */
  rng: Rng;
  /** global index of the first example (shards) */
  firstIndex: number;
  /** rows per device batch (examples × samples) */
  chunkRows?: number;
}

export interface BoundResult {
  /** per example, nats */
  nll: Float64Array;
  stderr: Float64Array;
  prior: Float64Array;
  diffusion: Float64Array;
  offset: Float64Array;
}

/** Mean and standard error of the mean of `v[from, from + n)`. */
function meanStderr(v: ArrayLike<number>, from: number, n: number): [number, number] {
  let m = 0;
  for (let j = 0; j < n; j++) m += v[from + j];
  m /= n;
  let s2 = 0;
  for (let j = 0; j < n; j++) s2 += (v[from + j] - m) ** 2;
  return [m, n > 1 ? Math.sqrt(s2 / (n - 1) / n) : 0];
}

/** Repeats each example `n` times along the batch axis: [B, …] → [B·n, …]. */
function repeatRows(x: Tensor, n: number): Tensor {
  const [b, ...rest] = x.shape;
  const ones = tensor(
    x.backend,
    new Float64Array(n).fill(1),
    [1, n, ...rest.map(() => 1)],
    x.dtype,
  );
  return reshape(mul(reshape(x, [b, 1, ...rest]), ones), [b * n, ...rest]);
}

export async function scoreFlowBound(
  model: DiffusionModel,
  x: Tensor,
  o: BoundOptions,
): Promise<BoundResult> {
  const { sde } = model;
  const B = x.shape[0], D = x.size / B, N = o.samples, T = sde.T;
  const lamMax = sde.logSnr(o.tMin), lamMin = sde.logSnr(T);
  const Z = lamMax - lamMin;
  const aE = sde.alpha(o.tMin), sE = sde.sigma(o.tMin);
  const xs = await x.read();
  const result: BoundResult = {
    nll: new Float64Array(B),
    stderr: new Float64Array(B),
    prior: new Float64Array(B),
    diffusion: new Float64Array(B),
    offset: new Float64Array(B),
  };
  const perChunk = Math.max(1, Math.floor((o.chunkRows ?? 4096) / N));
  for (let b0 = 0; b0 < B; b0 += perChunk) {
    const nb = Math.min(perChunk, B - b0);
    const first = o.firstIndex + b0;
    // Example i owns counters [i·N, (i+1)·N) of the time stream and [i·N·D, (i+1)·N·D) of each
    // noise stream, so consecutive examples are one contiguous draw.
    const u = o.rng.derive("time").at(first * N).uniformHost(nb * N);
    const times = u.map((v) => sde.timeOfLogSnr(lamMin + v * Z));
    const [diffT, quadT] = tidy(() => {
      const xb = repeatRows(
        slice(x, [b0, ...x.shape.slice(1).map(() => 0)], [b0 + nb, ...x.shape.slice(1)]),
        N,
      );
      const noise = (purpose: string) =>
        o.rng.derive(purpose).at(first * N * D).normal(x.backend, xb.shape, x.dtype);
      const z = noise("z"), zE = noise("z-offset");
      const t = tensor(x.backend, times, [nb * N], x.dtype);
      const { alpha, sigma } = sde.alphaSigmaT(t);
      const col = (v: Tensor) => reshape(v, [nb * N, ...x.shape.slice(1).map(() => 1)]);
      const xt = add(mul(col(alpha), xb), mul(col(sigma), z));
      const diff = sub(
        sumPerExample(square(add(mul(col(sigma), model.score(xt, t)), z))),
        sumPerExample(square(z)),
      );
      // decoder N(x; (x_e + σ_e² s)/α_e, (σ_e/α_e)² I): only its quadratic term is random
      const xe = add(mul(xb, aE), mul(zE, sE));
      const tE = tensor(x.backend, new Float64Array(nb * N).fill(o.tMin), [nb * N], x.dtype);
      const mean = mul(add(xe, mul(model.score(xe, tE), sE * sE)), 1 / aE);
      return [diff, mul(sumPerExample(square(sub(xb, mean))), (aE * aE) / (2 * sE * sE))];
    });
    const diffTerms = await diffT.read(), offsetTerms = await quadT.read();
    diffT.dispose();
    quadT.dispose();
    for (let i = 0; i < nb; i++) {
      const b = b0 + i;
      const [dm, dse] = meanStderr(diffTerms, i * N, N);
      const [om, ose] = meanStderr(offsetTerms, i * N, N);
      let x2 = 0;
      for (let d = 0; d < D; d++) x2 += xs[b * D + d] ** 2;
      const s2 = sde.priorStd ** 2, aT = sde.alpha(T), sT = sde.sigma(T);
      result.prior[b] = (D / 2) * Math.log(2 * Math.PI * s2) +
        (aT * aT * x2 + D * sT * sT) / (2 * s2);
      result.diffusion[b] = 0.5 * Z * dm - D * Math.log(aT / aE);
      // −log N normaliser (D/2)ln(2πσ_e²/α_e²) minus the entropy (D/2)(ln 2π + 2 ln σ_e + 1)
      result.offset[b] = om + (D / 2) * Math.log((2 * Math.PI * sE * sE) / (aE * aE)) -
        (D / 2) * (Math.log(2 * Math.PI) + 2 * Math.log(sE) + 1);
      result.nll[b] = result.prior[b] + result.diffusion[b] + result.offset[b];
      result.stderr[b] = Math.hypot(0.5 * Z * dse, ose);
    }
  }
  return result;
}
