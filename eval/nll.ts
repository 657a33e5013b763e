/**
 * Exact negative log-likelihood of a dataset through the PF-ODE (docs/MATH.md §2): batches of
 * examples, K Hutchinson probes averaged per example, J dequantisation draws combined by
 * importance weighting (logmeanexp, ln J subtracted), every draw keyed by the example's global
 * index so shards reproduce an unsharded run.
 */

import {
  type Backend,
  type DType,
  noGrad,
  type Rng,
  sizeOf,
  type Tensor,
  tensor,
} from "../compute/mod.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { pfOdeLogLikelihood } from "../sde/likelihood.ts";
import { type Dequantization, dequantize, type DequantizedBatch } from "./dequantization.ts";
import type { Quantization } from "../data/quantization.ts";
import type { Progress } from "../io/progress.ts";

export interface NllOptions {
  backend: Backend;
  dtype: DType;
  tMin: number;
  rtol: number;
  atol: number;
  divergence: "exact" | "hutchinson";
  probe: "rademacher" | "gaussian";
  probes: number;
  dequantization: Dequantization;
  dequantSamples: number;
  prior: "standard" | "exact";
  batch: number;
  rng: Rng;
  /** global index of the first example (for shards) */
  firstIndex: number;
  /**
   * A learned dequantiser's draw (`--dequant variational`) in place of `dequantize`'s fixed
   * ones, from the same stream, so that runs of one seed are paired.
   */
  draw?: (k: Tensor, stream: Rng) => DequantizedBatch;
}

export interface ExampleResult {
  index: number;
  /** −log p (continuous data) or −log P(k) bound (dequantised), nats */
  nll: number;
  nfe: number;
}

/** log (1/J) Σ_j exp(v_j) */
export function logMeanExp(v: readonly number[]): number {
  const m = Math.max(...v);
  if (!Number.isFinite(m)) return m;
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0) / v.length);
}

export async function evaluateNll(
  model: DiffusionModel,
  data: { values: Float64Array; n: number; quantization: Quantization | null },
  o: NllOptions,
  progress?: Progress,
): Promise<ExampleResult[]> {
  const { sde } = model;
  const D = sizeOf(model.shape);
  const results: ExampleResult[] = [];
  for (let start = 0; start < data.n; start += o.batch) {
    const nb = Math.min(o.batch, data.n - start);
    const first = o.firstIndex + start;
    const k = tensor(o.backend, data.values.subarray(start * D, (start + nb) * D), [
      nb,
      ...model.shape,
    ], o.dtype);
    const atT = (xT: Tensor) =>
      model.logp!(xT, tensor(o.backend, new Float64Array(nb).fill(sde.T), [nb], o.dtype));
    const logTerms: number[][] = Array.from({ length: nb }, () => []);
    const nfe = new Array<number>(nb).fill(0);
    for (let j = 0; j < o.dequantSamples; j++) {
      const sum = new Float64Array(nb);
      for (let p = 0; p < o.probes; p++) {
        const stream = o.rng.derive("dequant").derive(j).at(first * D);
        const { x, logq, logVolume } = noGrad(() =>
          o.draw
            ? o.draw(k, stream)
            : dequantize(o.dequantization, k, data.quantization, sde, o.tMin, stream)
        );
        const probeRng = o.rng.derive("probe").derive(j * o.probes + p).at(first * D);
        const probe = o.divergence === "exact"
          ? null
          : o.probe === "gaussian"
          ? probeRng.normal(k.backend, k.shape, k.dtype)
          : probeRng.rademacher(k.backend, k.shape, k.dtype);
        const r = await pfOdeLogLikelihood((y, t) => model.score(y, t), sde, x, {
          tMin: o.tMin,
          tMax: sde.T,
          rtol: o.rtol,
          atol: o.atol,
          divergence: probe ? { method: "hutchinson", probe } : { method: "exact" },
          terminalLogp: o.prior === "exact" ? atT : undefined,
        });
        const lq = logq ? await logq.read() : null;
        for (let i = 0; i < nb; i++) {
          sum[i] += r.logp[i] + logVolume - (lq ? lq[i] : 0);
          nfe[i] += r.nfePerExample[i];
        }
        for (const t of [x, logq, probe]) if (t && t !== k) t.dispose();
      }
      for (let i = 0; i < nb; i++) logTerms[i].push(sum[i] / o.probes);
    }
    k.dispose();
    for (let i = 0; i < nb; i++) {
      results.push({ index: first + i, nll: -logMeanExp(logTerms[i]), nfe: nfe[i] });
    }
    progress?.update(start + nb);
  }
  return results;
}
