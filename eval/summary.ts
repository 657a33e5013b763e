/**
 * Per-example results → the reported figures (mean NLL, bits/dim with standard error), and the
 * slice of examples each shard evaluates (its part file: part.ts; the merge: merge.ts).
 * Bits/dim always come with the dequantisation and sample counts that produced them.
 */

import { UsageError } from "../io/errors.ts";
import { mean, meanStderr } from "../io/statistics.ts";
import type { ExampleResult } from "./nll.ts";

/** Everything that must agree between shards for their merge to mean anything. */
export interface EvalSettings {
  model: string;
  data: string;
  dim: number;
  dequantization: string;
  dequant_samples: number;
  divergence: string;
  probe: string;
  probes: number;
  prior: string;
  t_min: number;
  t_max: number;
  rtol: number;
  atol: number;
  seed: number;
  sde: { kind: string; params: Record<string, number> };
  n_total: number;
}

export interface BoundExample {
  index: number;
  nll: number;
  stderr: number;
  prior: number;
  diffusion: number;
  offset: number;
  /** E[log q(x | k)] of the dequantisation, nats (0 for continuous data) */
  dequantization: number;
}

/** What a ScoreFlow bound was computed with, reported beside its figures. */
export interface BoundSettings {
  samples: number;
  /** terminal density of its prior term: "standard" (π) or "exact" (the model's p_T) */
  prior: string;
  dequantization: string;
  /** bits/dim its dequantisation adds, −log2 a for uniform (+7 for 8-bit on [−1, 1]), else 0 */
  bpd_offset: number;
  /** where its time integral starts and its decoder sits */
  t_decoder: number;
}

/** A single example reports a standard error of 0. */
const stderr = (v: number[]) => meanStderr(v, { ifFewerThanTwo: 0 }).stderr;

/** The result document of `eval-nll --json` (without timings and backend, added by the command). */
export function summarize(
  settings: EvalSettings,
  examples: ExampleResult[],
  bound?: BoundSettings & { examples: BoundExample[] },
) {
  const perDim = 1 / (settings.dim * Math.LN2);
  const nll = examples.map((e) => e.nll);
  const doc: Record<string, unknown> = {
    command: "eval-nll",
    n: examples.length,
    nll_nats: mean(nll),
    nll_stderr: stderr(nll),
    bpd: mean(nll) * perDim,
    bpd_stderr: stderr(nll) * perDim,
    nfe_mean: mean(examples.map((e) => e.nfe)),
    ...settings,
  };
  if (bound) {
    const { examples: b, ...about } = bound;
    doc.bound = {
      ...about,
      nll_nats: mean(b.map((e) => e.nll)),
      bpd: mean(b.map((e) => e.nll)) * perDim,
      bpd_stderr: stderr(b.map((e) => e.nll)) * perDim,
      parts: {
        prior: mean(b.map((e) => e.prior)),
        diffusion: mean(b.map((e) => e.diffusion)),
        offset: mean(b.map((e) => e.offset)),
        dequantization: mean(b.map((e) => e.dequantization)),
      },
    };
  }
  return doc;
}

/** `i/n`, 0-based (0 ≤ i < n), the convention of indexed job arrays. */
export function parseShard(spec: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new UsageError(
      `--shard: expected i/n with 0 ≤ i < n (0-based), got ${JSON.stringify(spec)}`,
    );
  }
  return { index, count };
}

/** The contiguous slice [start, end) of n examples that shard i of `count` evaluates. */
export function shardRange(n: number, shard: { index: number; count: number }): [number, number] {
  return [
    Math.floor((shard.index * n) / shard.count),
    Math.floor(((shard.index + 1) * n) / shard.count),
  ];
}
