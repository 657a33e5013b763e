/**
 * Exact negative log-likelihood of a dataset through the PF-ODE (docs/MATH.md §2): batches of
 * examples, K Hutchinson probes averaged per example, J dequantisation draws combined by
 * importance weighting (logmeanexp, ln J subtracted), every draw keyed by the example's global
 * index so shards reproduce an unsharded run.
 */

import {
  type Backend,
  concat,
  type DType,
  noGrad,
  type Rng,
  sizeOf,
  slice,
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
  /** the class it was evaluated under (`eval-nll --labels`), −log p(x | label) */
  label?: number;
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
  data: IndexedRows,
  o: NllOptions,
  progress?: Progress,
): Promise<ExampleResult[]> {
  const { sde } = model;
  const D = sizeOf(model.shape);
  const results: ExampleResult[] = [];
  for (let start = 0; start < data.n; start += o.batch) {
    const nb = Math.min(o.batch, data.n - start);
    const first = data.indices ? data.indices[start] : o.firstIndex + start;
    const ids = Array.from(
      { length: nb },
      (_, i) => data.indices ? data.indices[start + i] : first + i,
    );
    // runs of consecutive global indices: one (the whole batch) unless `data.indices` skip some
    const runs = consecutiveRuns(ids);
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
        const { x, logq, logVolume } = keyedRows(runs, k, (kr, at) => {
          const stream = o.rng.derive("dequant").derive(j).at(at * D);
          return noGrad(() =>
            o.draw
              ? o.draw(kr, stream)
              : dequantize(o.dequantization, kr, data.quantization, sde, o.tMin, stream)
          );
        });
        const probeRng = o.rng.derive("probe").derive(j * o.probes + p);
        const probe = o.divergence === "exact" ? null : keyedRows(runs, k, (kr, at) => {
          const r = probeRng.at(at * D);
          const x = o.probe === "gaussian"
            ? r.normal(kr.backend, kr.shape, kr.dtype)
            : r.rademacher(kr.backend, kr.shape, kr.dtype);
          return { x, logq: null, logVolume: 0 };
        }).x;
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
      results.push({ index: ids[i], nll: -logMeanExp(logTerms[i]), nfe: nfe[i] });
    }
    progress?.update(start + nb);
  }
  return results;
}

/** Rows of `evaluateNll`; `indices` (ascending) are their global indices, else `firstIndex + i`. */
export interface IndexedRows {
  values: Float64Array;
  n: number;
  quantization: Quantization | null;
  indices?: readonly number[];
}

/** `count` consecutive global indices from `first`, at position `from` of a batch. */
interface Run {
  from: number;
  count: number;
  first: number;
}

/** Maximal runs of consecutive indices in `ids`. */
function consecutiveRuns(ids: readonly number[]): Run[] {
  const runs: Run[] = [];
  ids.forEach((id, i) => {
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === id) last.count++;
    else runs.push({ from: i, count: 1, first: id });
  });
  return runs;
}

/**
 * A batch's draws keyed by global index: `draw(k, first)` once for one run (the batch itself),
 * else once per run of consecutive indices on those rows, joined — the same numbers each
 * example gets when evaluated among its neighbours.
 */
function keyedRows(
  runs: Run[],
  k: Tensor,
  draw: (rows: Tensor, first: number) => DequantizedBatch,
): DequantizedBatch {
  if (runs.length === 1) return draw(k, runs[0].first);
  const parts = runs.map((r) => {
    const rows = slice(k, [r.from, ...k.shape.slice(1).map(() => 0)], [
      r.from + r.count,
      ...k.shape.slice(1),
    ]);
    return { rows, d: draw(rows, r.first) };
  });
  const x = concat(parts.map((p) => p.d.x), 0);
  const logq = parts[0].d.logq ? concat(parts.map((p) => p.d.logq!), 0) : null;
  for (const { rows, d } of parts) {
    for (const t of [d.x, d.logq]) if (t && t !== rows) t.dispose();
    rows.dispose();
  }
  return { x, logq, logVolume: parts[0].d.logVolume };
}

/**
 * `evaluateNll` of each example under its own label, −log p(x_i | y_i): the rows of one label
 * go through `evaluate` together with `modelFor(label)`, keyed by their global indices, so each
 * result equals evaluating the data with `--class y_i`, whatever the batch or shard; results
 * come back in index order.
 */
export async function evaluateNllByLabel(
  evaluate: (
    model: DiffusionModel,
    data: IndexedRows,
    o: NllOptions,
    progress?: Progress,
  ) => Promise<ExampleResult[]>,
  modelFor: (label: number) => DiffusionModel,
  labels: Int32Array,
  data: IndexedRows,
  o: NllOptions,
  progress?: Progress,
): Promise<ExampleResult[]> {
  const D = data.n > 0 ? data.values.length / data.n : 0;
  const byLabel = new Map<number, number[]>();
  labels.forEach((label, i) => byLabel.get(label)?.push(i) ?? byLabel.set(label, [i]));
  const results: ExampleResult[] = [];
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const at = byLabel.get(label)!;
    const values = new Float64Array(at.length * D);
    at.forEach((i, j) => values.set(data.values.subarray(i * D, (i + 1) * D), j * D));
    const indices = at.map((i) => data.indices ? data.indices[i] : o.firstIndex + i);
    const done = results.length;
    // progress counts every label's rows: this group's start at the rows done before it
    const offset = progress && ({ update: (n: number) => progress.update(done + n) } as Progress);
    const rows = await evaluate(
      modelFor(label),
      { values, n: at.length, quantization: data.quantization, indices },
      o,
      offset,
    );
    for (const r of rows) results.push({ ...r, label });
  }
  return results.sort((a, b) => a.index - b.index);
}
