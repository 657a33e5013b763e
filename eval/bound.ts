/**
 * The ScoreFlow per-example upper bound on −log p(x) (Song et al. 2021, "Maximum likelihood
 * training of score-based diffusion models"; docs/MATH.md §2):
 *
 *   −log p(x) ≤ E[−log π(x_T)] + ½∫_{t_min}^T E[g²(‖s − ∇log p_0t‖² − ‖∇log p_0t‖²) − 2∇·f] dt + offset
 *
 * with x_t = α_t x + σ_t z and ∇log p_0t = −z/σ_t. Times are importance-sampled uniformly in
 * λ (p(t) ∝ g²/σ², normaliser Z = λ(t_min) − λ(T)), turning the g² term into ½Z(‖σs + z‖² −
 * ‖z‖²). The ∫−∇·f = −D ln(α_T/α_{t_min}) term is exact, and so is the prior term under π; under
 * the model's own p_T (`prior: "exact"`) it is E[−log π] plus a Monte-Carlo mean of
 * log π − log p_T. The offset is the Gaussian decoder at t_min minus the entropy of
 * q(x_{t_min} | x).
 *
 * Integer data k are dequantised afresh for every (t, z) draw, and the bound on −log P(k) adds
 * E[log q(x | k)] (docs/MATH.md §2):
 * - uniform: x = a(k + u) + b is data at time 0, log q = −D ln a (the +7 bits/dim of 8-bit
 *   images on [−1, 1]);
 * - truncated-normal: x = α0 y_k + σ0 ε is a point at t0 = t_min, and the bound is on
 *   −log p_{t0}(x). The forward process continued from x has α_c = α_t/α0 and
 *   σ_c² = σ_t² − α_c²σ0², with log-SNR λ_c given by e^{−λ_c} = α0²(e^{−λ_t} − e^{−λ_0}) and
 *   the same f, g (so again g²/σ_c² = −dλ_c/dt); the decoder sits where λ_c = λ_0, i.e. where
 *   the added noise matches the start's own. Clean data are the case α0 = 1, σ0 = 0.
 */

import {
  add,
  mul,
  noGrad,
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
import { perExample } from "../sde/parameterization.ts";
import type { Sde } from "../sde/sde.ts";
import { priorLogp } from "../sde/prior.ts";
import { mean, meanStderr } from "../io/statistics.ts";
import { dequantize } from "./dequantization.ts";
import type { Quantization } from "../data/quantization.ts";

export interface BoundOptions {
  /** the likelihood's t_min: the decoder's time, or t0 of truncated-normal start points */
  tMin: number;
  /** importance-sampled (t, z) pairs per example (ScoreFlow uses 1000) */
  samples: number;
  /** keyed stream: example i draws from counters starting at i·(per-example count) */
  rng: Rng;
  /** global index of the first example (shards) */
  firstIndex: number;
  /** rows per device batch (examples × samples) */
  chunkRows?: number;
  /** terminal density of the prior term: π = N(0, σ_T² I) (standard), or the model's p_T */
  prior?: "standard" | "exact";
  /** integer data (x in level units): each draw dequantised this way */
  dequantization?: { kind: "uniform" | "truncated-normal"; quantization: Quantization };
}

export interface BoundResult {
  /** per example, nats */
  nll: Float64Array;
  stderr: Float64Array;
  prior: Float64Array;
  diffusion: Float64Array;
  offset: Float64Array;
  /** E[log q(x | k)] of the dequantisation (0 for continuous data) */
  dequantization: Float64Array;
  /** where the time integral starts and the decoder sits */
  tDecoder: number;
}

/** The forward process continued from a start point with scale α0 and noise σ0. */
interface Continuation {
  alpha0: number;
  sigma0: number;
  /** the decoder's time and its conditional log-SNR (the top of the λ range) */
  tDecoder: number;
  lambdaDecoder: number;
}

function continuation(sde: Sde, tMin: number, noisyStart: boolean): Continuation {
  if (!noisyStart) return { alpha0: 1, sigma0: 0, tDecoder: tMin, lambdaDecoder: sde.logSnr(tMin) };
  const alpha0 = sde.alpha(tMin), lambda0 = sde.logSnr(tMin);
  // λ_c = λ_0 where e^{−λ_t} = e^{−λ_0}(1 + 1/α0²)
  const tDecoder = sde.timeOfLogSnr(lambda0 - Math.log1p(1 / (alpha0 * alpha0)));
  return { alpha0, sigma0: sde.sigma(tMin), tDecoder, lambdaDecoder: lambda0 };
}

/** The conditional log-SNR λ_c at time t (e^{−λ_c} = α0²(e^{−λ_t} − σ0²/α0²)). */
function conditionalLogSnr(sde: Sde, c: Continuation, t: number): number {
  if (c.sigma0 === 0) return sde.logSnr(t);
  const a0 = c.alpha0;
  return -Math.log(a0 * a0 * Math.exp(-sde.logSnr(t)) - c.sigma0 * c.sigma0);
}

/** The time whose conditional log-SNR is λ_c: e^{−λ_t} = (e^{−λ_c} + σ0²)/α0². */
function timeOfConditionalLogSnr(sde: Sde, c: Continuation, lambda: number): number {
  if (c.sigma0 === 0) return sde.timeOfLogSnr(lambda);
  const a0 = c.alpha0;
  return sde.timeOfLogSnr(-Math.log((Math.exp(-lambda) + c.sigma0 * c.sigma0) / (a0 * a0)));
}

/** α_c = α_t/α0 and σ_c = α_c e^{−λ_c/2} (no subtraction: λ_c is known exactly). */
function conditionalScale(sde: Sde, c: Continuation, t: number, lambda: number) {
  const alpha = sde.alpha(t) / c.alpha0;
  return { alpha, sigma: alpha * Math.exp(-lambda / 2) };
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
  if (o.prior === "exact" && !model.logp) {
    throw new Error(`the exact prior needs the model's p_T; ${model.description} has none`);
  }
  const cont = continuation(sde, o.tMin, o.dequantization?.kind === "truncated-normal");
  const lamMax = cont.lambdaDecoder, lamMin = conditionalLogSnr(sde, cont, T);
  const Z = lamMax - lamMin;
  const dec = conditionalScale(sde, cont, cont.tDecoder, lamMax);
  const end = conditionalScale(sde, cont, T, lamMin);
  const s2 = sde.priorStd ** 2;
  const result: BoundResult = {
    nll: new Float64Array(B),
    stderr: new Float64Array(B),
    prior: new Float64Array(B),
    diffusion: new Float64Array(B),
    offset: new Float64Array(B),
    dequantization: new Float64Array(B),
    tDecoder: cont.tDecoder,
  };
  const perChunk = Math.max(1, Math.floor((o.chunkRows ?? 4096) / N));
  for (let b0 = 0; b0 < B; b0 += perChunk) {
    const nb = Math.min(perChunk, B - b0), rows = nb * N;
    const first = o.firstIndex + b0;
    // Example i owns counters [i·N, (i+1)·N) of the time stream and [i·N·D, (i+1)·N·D) of each
    // noise (and dequantisation) stream, so consecutive examples are one contiguous draw.
    const lambdas = o.rng.derive("time").at(first * N).uniformHost(rows).map((v) => lamMin + v * Z);
    const times = lambdas.map((l) => timeOfConditionalLogSnr(sde, cont, l));
    const scales = Array.from(times, (t, r) => conditionalScale(sde, cont, t, lambdas[r]));
    const terms = tidy(() =>
      noGrad(() => {
        const k = repeatRows(
          slice(x, [b0, ...x.shape.slice(1).map(() => 0)], [b0 + nb, ...x.shape.slice(1)]),
          N,
        );
        const col = (v: Float64Array) => perExample(tensor(x.backend, v, [rows], x.dtype), k);
        const noise = (purpose: string) =>
          o.rng.derive(purpose).at(first * N * D).normal(x.backend, k.shape, x.dtype);
        // the start point of each draw, and log q of its dequantisation per row
        let start = k, logq: Tensor | null = null, logVolume = 0;
        if (o.dequantization) {
          const d = dequantize(
            o.dequantization.kind,
            k,
            o.dequantization.quantization,
            sde,
            o.tMin,
            o.rng.derive("dequant").at(first * N * D),
          );
          start = d.x;
          logq = d.logq;
          logVolume = d.logVolume;
        }
        const z = noise("z"), zE = noise("z-offset");
        const t = tensor(x.backend, times, [rows], x.dtype);
        const sigma = col(Float64Array.from(scales, (s) => s.sigma));
        const xt = add(mul(col(Float64Array.from(scales, (s) => s.alpha)), start), mul(sigma, z));
        const diff = sub(
          sumPerExample(square(add(mul(sigma, model.score(xt, t)), z))),
          sumPerExample(square(z)),
        );
        // decoder N(x; (x_e + σ_e² s)/α_e, (σ_e/α_e)² I): only its quadratic term is random
        const xe = add(mul(start, dec.alpha), mul(zE, dec.sigma));
        const tE = tensor(x.backend, new Float64Array(rows).fill(cont.tDecoder), [rows], x.dtype);
        const mean = mul(add(xe, mul(model.score(xe, tE), dec.sigma ** 2)), 1 / dec.alpha);
        const quad = mul(
          sumPerExample(square(sub(start, mean))),
          dec.alpha ** 2 / (2 * dec.sigma ** 2),
        );
        // the model's p_T in place of π: E[−log p_T] = E[−log π] + E[log π − log p_T]
        let priorGap: Tensor | null = null;
        if (o.prior === "exact") {
          const xT = add(mul(start, end.alpha), mul(noise("z-prior"), end.sigma));
          const tT = tensor(x.backend, new Float64Array(rows).fill(T), [rows], x.dtype);
          priorGap = sub(priorLogp(sde, xT), model.logp!(xT, tT));
        }
        return {
          diff,
          quad,
          norm2: sumPerExample(square(start)),
          logq,
          priorGap,
          logVolume,
        };
      })
    );
    const read = async (v: Tensor | null) => {
      if (!v) return null;
      const values = await v.read();
      v.dispose();
      return values;
    };
    const diff = (await read(terms.diff))!, quad = (await read(terms.quad))!;
    const norm2 = (await read(terms.norm2))!;
    const logq = await read(terms.logq), priorGap = await read(terms.priorGap);
    // per row: prior, diffusion, offset and dequantisation terms; the bound is their mean
    const prior = new Float64Array(rows), diffusion = new Float64Array(rows);
    const offset = new Float64Array(rows), dequant = new Float64Array(rows);
    const total = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      prior[r] = (D / 2) * Math.log(2 * Math.PI * s2) +
        (end.alpha ** 2 * norm2[r] + D * end.sigma ** 2) / (2 * s2) + (priorGap ? priorGap[r] : 0);
      diffusion[r] = 0.5 * Z * diff[r] - D * Math.log(end.alpha / dec.alpha);
      // −log N normaliser (D/2)ln(2πσ_e²/α_e²) minus the entropy (D/2)(ln 2π + 2 ln σ_e + 1)
      offset[r] = quad[r] + (D / 2) * Math.log((2 * Math.PI * dec.sigma ** 2) / dec.alpha ** 2) -
        (D / 2) * (Math.log(2 * Math.PI) + 2 * Math.log(dec.sigma) + 1);
      dequant[r] = (logq ? logq[r] : 0) - terms.logVolume;
      total[r] = prior[r] + diffusion[r] + offset[r] + dequant[r];
    }
    for (let i = 0; i < nb; i++) {
      const b = b0 + i, own = (v: Float64Array) => v.subarray(i * N, (i + 1) * N);
      const nll = meanStderr(own(total), { ifFewerThanTwo: 0 });
      result.nll[b] = nll.mean;
      result.stderr[b] = nll.stderr;
      result.prior[b] = mean(own(prior));
      result.diffusion[b] = mean(own(diffusion));
      result.offset[b] = mean(own(offset));
      result.dequantization[b] = mean(own(dequant));
    }
  }
  return result;
}
