/**
 * Per-example results → the reported figures (mean NLL, bits/dim with standard error), and the
 * partial-result files of shards with their merge. Bits/dim always come with the
 * dequantisation and sample counts that produced them.
 */

import { InputError, UsageError } from "../io/errors.ts";
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
}

export interface PartialResult {
  format: "likelihood-eval-part/1";
  shard: { index: number; count: number };
  settings: EvalSettings;
  examples: ExampleResult[];
  bound?: { samples: number; examples: BoundExample[] };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const stderr = (v: number[]) => {
  if (v.length < 2) return 0;
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1) / v.length);
};

/** The result document of `eval-nll --json` (without timings and backend, added by the command). */
export function summarize(
  settings: EvalSettings,
  examples: ExampleResult[],
  bound?: PartialResult["bound"],
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
    const b = bound.examples;
    doc.bound = {
      samples: bound.samples,
      nll_nats: mean(b.map((e) => e.nll)),
      bpd: mean(b.map((e) => e.nll)) * perDim,
      bpd_stderr: stderr(b.map((e) => e.nll)) * perDim,
      parts: {
        prior: mean(b.map((e) => e.prior)),
        diffusion: mean(b.map((e) => e.diffusion)),
        offset: mean(b.map((e) => e.offset)),
      },
    };
  }
  return doc;
}

/** Checks that parts share settings and cover 0…n−1 exactly once, then joins them in order. */
export function mergeParts(parts: { path: string; part: PartialResult }[]) {
  if (parts.length === 0) throw new InputError("eval-nll merge: no partial results given");
  const ref = parts[0];
  const key = JSON.stringify(ref.part.settings);
  for (const { path, part } of parts) {
    if (part.format !== "likelihood-eval-part/1") {
      throw new InputError(
        `${path}: not an eval-nll partial result (format ${JSON.stringify(part.format)})`,
      );
    }
    if (JSON.stringify(part.settings) !== key) {
      throw new InputError(
        `${path}: settings differ from ${ref.path}; shards of one evaluation must share them`,
      );
    }
  }
  const examples = parts.flatMap((p) => p.part.examples).sort((a, b) => a.index - b.index);
  const n = ref.part.settings.n_total;
  const missing = [];
  for (let i = 0, j = 0; i < n; i++) {
    if (examples[j]?.index === i) j++;
    else missing.push(i);
    if (examples[j]?.index === i) {
      throw new InputError(`example ${i} appears in more than one part`);
    }
  }
  if (missing.length > 0) {
    throw new InputError(
      `the parts cover ${examples.length} of ${n} examples; missing ${
        missing.slice(0, 5).join(", ")
      }${missing.length > 5 ? ", …" : ""}`,
    );
  }
  const withBound = parts.filter((p) => p.part.bound);
  const bound = withBound.length === parts.length
    ? {
      samples: ref.part.bound!.samples,
      examples: parts.flatMap((p) => p.part.bound!.examples).sort((a, b) => a.index - b.index),
    }
    : undefined;
  return summarize(ref.part.settings, examples, bound);
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
