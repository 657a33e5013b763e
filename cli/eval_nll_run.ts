/** Resolves an eval-nll invocation into a model, data and settings, runs it, and reports. */

import { type DType, Rng, tensor } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import { Progress } from "../io/progress.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { computeRecord, pinKernelsForEvaluation } from "../compute/batch_invariance.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { resolveData } from "../eval/resolve.ts";
import { evaluateNll, evaluateNllByLabel } from "../eval/nll.ts";
import { mayCarryLabels, resolveLabels } from "../eval/labelled_data.ts";
import { scoreFlowBound } from "../eval/bound.ts";
import {
  type BoundExample,
  type EvalSettings,
  parseShard,
  shardRange,
  summarize,
} from "../eval/summary.ts";
import { printSummary } from "../eval/report.ts";
import { PART_FORMAT, type PartialResult } from "../eval/part.ts";
import { type Dequantization, likelihoodTMin } from "../eval/dequantization.ts";
import type { Quantization } from "../data/quantization.ts";
import { evaluateLmBound, type LmBoundOptions } from "../eval/lm_bound_eval.ts";
import type { LmBoundModel } from "../eval/lm_bound.ts";
import { isImageSpec, type Split } from "../data/image_set.ts";
import { type ModelOptions, openBackend, type RuntimeOptions } from "./options.ts";
import { checkModelOptions, loadModel } from "./load_model.ts";
import { openDequantizer, variationalEvaluator } from "../eval/variational_dequant.ts";
import type { ClassOptions } from "./class_options.ts";

export interface EvalFlags extends RuntimeOptions, ModelOptions, ClassOptions {
  data?: string;
  limit?: number;
  split?: string;
  dequant?: Dequantization;
  dequantSamples: number;
  /** --dequant variational: the file train-dequantizer wrote */
  dequantizer?: string;
  divergence: "hutchinson" | "exact";
  probe: "rademacher" | "gaussian";
  probes: number;
  rtol: number;
  atol: number;
  tMin?: number;
  prior: "standard" | "exact";
  /** true: the default kind (scoreflow) */
  bound?: boolean | string;
  boundSamples: number;
  steps?: number;
  batch: number;
  perExample?: boolean;
  /** each example under its own label: −log p(x_i | y_i) */
  labels?: boolean;
  shard?: string;
  out?: string;
}

const isSplit = (name: string): name is Split => name === "train" || name === "test";

/** Flag-only checks, before any file is read or any device is started. */
function checkFlags(f: EvalFlags): void {
  checkModelOptions(f, "eval-nll needs --model gmm:FILE.json or --ckpt FILE (see --help)");
  if (!f.data) throw new UsageError("eval-nll needs --data SPEC: gmm:FILE.json or points:FILE");
  if (f.split && !isImageSpec(f.data)) {
    throw new UsageError(
      `--split applies to image datasets, which have train and test splits; ${f.data} has none`,
    );
  }
  if (f.split && !isSplit(f.split)) {
    throw new UsageError(`--split must be train or test, got ${JSON.stringify(f.split)}`);
  }
  if (f.shard && !f.out) {
    throw new UsageError("--shard needs --out PART.json to write its partial result");
  }
  if (f.out && !f.shard) throw new UsageError("--out is for shards; add --shard i/n or drop --out");
  if (f.probes > 1 && f.divergence === "exact") {
    throw new UsageError(
      "--probes averages Hutchinson solves; it conflicts with --divergence exact",
    );
  }
  if (f.boundSamples !== 1000 && f.bound !== true && f.bound !== "scoreflow") {
    throw new UsageError("--bound-samples is a setting of --bound scoreflow");
  }
  if (typeof f.bound === "string" && f.bound !== "scoreflow" && f.bound !== "lm") {
    throw new UsageError(`--bound must be scoreflow or lm, got ${JSON.stringify(f.bound)}`);
  }
  if (f.steps !== undefined && f.bound !== "lm") {
    throw new UsageError("--steps is the grid of --bound lm (the chain's own bound)");
  }
  if ((f.dequant === "variational") !== (f.dequantizer !== undefined)) {
    throw new UsageError(
      f.dequantizer
        ? "--dequantizer is the learned q of --dequant variational: add --dequant variational"
        : "--dequant variational needs --dequantizer FILE (written by train-dequantizer)",
    );
  }
  if (f.dequantizer && f.bound) {
    throw new UsageError(
      "--bound dequantises with uniform or truncated-normal draws; drop it with --dequant variational",
    );
  }
  if (f.labels) {
    const clash = f.class !== undefined
      ? "--class (one class for every example)"
      : f.cfg !== undefined || f.cfgGamma !== undefined
      ? "--cfg/--cfg-gamma (guidance is not a likelihood under the example's label)"
      : f.bound
      ? "--bound (the bound is of the unconditional model)"
      : null;
    if (clash) {
      throw new UsageError(
        `--labels evaluates each example under its own label; it conflicts with ${clash}`,
      );
    }
    if (!mayCarryLabels(f.data)) {
      throw new UsageError(
        `--labels needs labelled data: --data ${f.data} has no labels (give a labelled gmm: file, mnist, fashion-mnist, cifar10 or imagenet32)`,
      );
    }
  }
  if (f.bound === "lm" && f.shard) {
    throw new UsageError(
      "--bound lm draws its paths per batch; it does not split into --shard parts",
    );
  }
}

export async function runEval(f: EvalFlags): Promise<void> {
  checkFlags(f);
  const started = performance.now();
  const log = (line: string) => f.quiet || console.error(line);
  const backend = await openBackend(f, log);
  // an example's result must not depend on its batch or shard: kernels chosen by shape class
  pinKernelsForEvaluation(backend);
  const dtype: DType = backend.supports("f64") ? "f64" : "f32";
  const model = await loadModel(f, backend, dtype);
  const sde = model.sde;
  if (f.prior === "exact" && !model.logp) {
    throw new UsageError(
      `--prior exact needs an analytic model with a known p_T; ${model.description} has none`,
    );
  }
  if (f.bound === "lm" && !model.denoisingCov) {
    throw new UsageError(
      `--bound lm needs a covariance head: ${model.description} was not trained with --objective lm`,
    );
  }
  if (f.labels && (!model.withLabel || model.classes === undefined)) {
    throw new UsageError(
      `--labels needs a class-conditional model; ${model.description} is not (train with --label-dropout, or give a gmm: file with "classes")`,
    );
  }
  const rng = Rng.fromSeed(f.seed);
  const dataOptions = {
    limit: f.limit,
    split: f.split && isSplit(f.split) ? f.split : undefined,
    rng: rng.derive("data"),
    backend,
    dtype,
  };
  const data = await resolveData(f.data!, model, dataOptions);
  const labelled = f.labels ? await resolveLabels(f.data!, model, data, dataOptions) : null;
  if (labelled?.rows) data.values = labelled.rows;
  if (labelled?.description) data.description = labelled.description;
  const dequantization = f.dequant ?? (data.integerValued ? "uniform" : "none");
  if (data.integerValued && dequantization === "none") {
    throw new UsageError(
      `${f.data} is declared discrete (integer values): their density needs a dequantisation (--dequant uniform or truncated-normal); ` +
        "without one the likelihood of a discrete set is meaningless (it can even give negative bits/dim)",
    );
  }
  if (!data.integerValued && dequantization !== "none") {
    throw new UsageError(
      `--dequant ${dequantization} is for discrete data; ${f.data} is continuous (use --dequant none, or declare integer levels with points:FILE,discrete)`,
    );
  }
  const dequantizer = f.dequantizer
    ? await openDequantizer(f.dequantizer, backend, dtype, data)
    : null;
  const tMin = f.tMin ?? likelihoodTMin(sde, dequantization);
  if (!(tMin < sde.T)) throw new UsageError(`--t-min must be below T = ${sde.T}, got ${tMin}`);
  const shard = f.shard ? parseShard(f.shard) : { index: 0, count: 1 };
  const [start, end] = shardRange(data.n, shard);
  const D = data.shape.reduce((p, d) => p * d, 1);
  const settings: EvalSettings & { labels?: true } = {
    model: model.description,
    data: data.description,
    dim: D,
    dequantization,
    dequant_samples: f.dequantSamples,
    divergence: f.divergence,
    probe: f.probe,
    probes: f.divergence === "exact" ? 0 : f.probes,
    prior: f.prior,
    t_min: tMin,
    t_max: sde.T,
    rtol: f.rtol,
    atol: f.atol,
    seed: f.seed,
    sde: { kind: sde.kind, params: { ...sde.params } },
    n_total: data.n,
    ...(labelled && { labels: true as const }),
  };
  const values = data.values.subarray(start * D, end * D);
  const evaluateRows = dequantizer ? variationalEvaluator(dequantizer) : evaluateNll;
  // --labels: each label's rows under the model conditioned on it, keyed by global index
  const evaluate: typeof evaluateNll = labelled
    ? (m, rows, o, p) =>
      evaluateNllByLabel(
        evaluateRows,
        (label) => m.withLabel!(label),
        labelled.labels.subarray(start, end),
        rows,
        o,
        p,
      )
    : evaluateRows;
  const examples = await evaluate(model, {
    values,
    n: end - start,
    quantization: data.quantization,
  }, {
    backend,
    dtype,
    tMin,
    rtol: f.rtol,
    atol: f.atol,
    divergence: f.divergence,
    probe: f.probe,
    probes: f.probes,
    dequantization,
    dequantSamples: f.dequantSamples,
    prior: f.prior,
    batch: f.batch,
    rng,
    firstIndex: start,
  }, new Progress("eval-nll", end - start, "examples", f.quiet === true));
  let bound: PartialResult["bound"];
  let lmBound: Record<string, number> | undefined;
  if (f.bound === "lm") {
    lmBound = await chainBound(model, data, values, end - start, dequantization, {
      backend,
      dtype,
      tMin,
      steps: f.steps ?? 100,
      batch: f.batch,
      rng: rng.derive("lm-bound"),
    }, f.quiet === true);
  } else if (f.bound) {
    // integer data are dequantised inside the bound, afresh for every (t, z) draw
    const quantized = dequantization !== "none" && dequantization !== "variational" &&
      data.quantization;
    const x = tensor(backend, values, [end - start, ...data.shape], dtype);
    const r = await scoreFlowBound(model, x, {
      tMin,
      samples: f.boundSamples,
      rng: rng.derive("bound"),
      firstIndex: start,
      prior: f.prior,
      dequantization: quantized ? { kind: dequantization, quantization: quantized } : undefined,
    });
    x.dispose();
    const rows: BoundExample[] = Array.from(r.nll, (nll, i) => ({
      index: start + i,
      nll,
      stderr: r.stderr[i],
      prior: r.prior[i],
      diffusion: r.diffusion[i],
      offset: r.offset[i],
      dequantization: r.dequantization[i],
    }));
    bound = {
      samples: f.boundSamples,
      prior: f.prior,
      dequantization,
      bpd_offset: quantized && dequantization === "uniform" ? -Math.log2(quantized.a) : 0,
      t_decoder: r.tDecoder,
      examples: rows,
    };
  }
  if (f.shard) {
    const part: PartialResult = {
      format: PART_FORMAT,
      shard,
      settings,
      compute: computeRecord(backend, dtype),
      examples,
      bound,
    };
    await writeFileAtomic(f.out!, JSON.stringify(part));
    log(
      `eval-nll: shard ${shard.index}/${shard.count} (${examples.length} examples) written to ${f.out}`,
    );
    return;
  }
  const doc = summarize(settings, examples, bound);
  if (lmBound) doc.lm_bound = lmBound;
  doc.backend = backend.name;
  doc.compute = computeRecord(backend, dtype);
  doc.seconds = (performance.now() - started) / 1000;
  if (f.perExample) {
    doc.per_example = examples.map((e, i) => ({
      index: e.index,
      nll_nats: e.nll,
      nfe: e.nfe,
      ...(e.label !== undefined && { label: e.label }),
      ...(bound && { bound_nats: bound.examples[i].nll, bound_stderr: bound.examples[i].stderr }),
    }));
  }
  printSummary(doc, f.json === true);
}

/** --bound lm: the chain's own bound, for checkpoints trained with --objective lm. */
async function chainBound(
  model: DiffusionModel,
  data: { shape: number[]; quantization: Quantization | null; integerValued: boolean },
  values: Float64Array,
  n: number,
  dequantization: Dequantization,
  o: LmBoundOptions,
  quiet: boolean,
): Promise<Record<string, number>> {
  if (!model.denoisingCov) {
    throw new UsageError(
      `--bound lm needs a covariance head: ${model.description} was not trained with --objective lm`,
    );
  }
  if (data.integerValued && dequantization !== "uniform") {
    throw new UsageError(
      "--bound lm starts its chain at uniformly dequantised data; use --dequant uniform with it",
    );
  }
  const D = data.shape.reduce((p, d) => p * d, 1);
  const nll = await evaluateLmBound(
    model as DiffusionModel & LmBoundModel,
    { values, n, quantization: data.integerValued ? data.quantization : null },
    o,
    new Progress("LM chain bound", n, "examples", quiet),
  );
  const mean = nll.reduce((s, v) => s + v, 0) / n;
  const se = n > 1 ? Math.sqrt(nll.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) / n) : 0;
  return {
    steps: o.steps,
    nll_nats: mean,
    bpd: mean / (D * Math.LN2),
    bpd_stderr: se / (D * Math.LN2),
  };
}
