/**
 * What `hd-mode` and `guidance` share once their model is loaded: the checks before any work
 * (`--out`, the detail report, `--prior exact`, t_min), then the batch loop with draws keyed by
 * each sample's global index. Latents and probes use the `sample` command's streams ("prior",
 * "probe"), so the same seed gives the same x_T there and here.
 */

import {
  type Backend,
  type DType,
  mul,
  noGrad,
  Rng,
  sizeOf,
  type Tensor,
  tensor,
  tidy,
} from "../../compute/mod.ts";
import { UsageError } from "../../io/errors.ts";
import { Progress } from "../../io/progress.ts";
import type { DiffusionModel } from "../../sde/model.ts";
import type { Sde } from "../../sde/sde.ts";
import { checkOutputPath, checkOutputWritable } from "../output.ts";
import { checkDetailReport } from "../detail_report.ts";
import type { FlowResult } from "./segments.ts";
import type { FlowOptions } from "./scaled.ts";

/** The settings of a flow run that its checks and its batch loop read. */
export interface FlowSettings {
  n: number;
  batch: number;
  divergence: "hutchinson" | "exact";
  prior: "standard" | "exact";
  tMin?: number;
  out: string;
  detailReport?: boolean;
  seed: number;
  quiet?: boolean;
  rtol: number;
  atol: number;
  /** fixed Dormand–Prince steps per segment instead of step control */
  steps?: number;
}

export interface FlowSetup {
  backend: Backend;
  dtype: DType;
  model: DiffusionModel;
  sde: Sde;
  tMin: number;
  D: number;
  rng: Rng;
  log: (line: string) => void;
  started: number;
}

/** Everything checkable about a loaded model before sampling: the output path, p_T, t_min. */
export async function prepareFlow(
  f: FlowSettings,
  opened: Pick<FlowSetup, "backend" | "dtype" | "model" | "log" | "started">,
): Promise<FlowSetup> {
  const { model } = opened;
  checkOutputPath(f.out, model.shape);
  if (f.detailReport) checkDetailReport(f.n, model.shape, model.description);
  await checkOutputWritable(f.out);
  if (f.prior === "exact" && !model.logp) {
    throw new UsageError(
      `--prior exact needs an analytic model with a known p_T; ${model.description} has none`,
    );
  }
  const sde = model.sde;
  const tMin = f.tMin ?? sde.tMinSampling;
  if (!(tMin < sde.T)) throw new UsageError(`--t-min must be below T = ${sde.T}, got ${tMin}`);
  const D = sizeOf(model.shape);
  return { ...opened, sde, tMin, D, rng: Rng.fromSeed(f.seed) };
}

/** How every flow of a batch is solved: tolerances, t_min, divergence and terminal density. */
export interface BatchSolve extends FlowOptions {
  tMin: number;
  terminalLogp?: (xT: Tensor) => Tensor;
}

/** One batch's inputs: x_T ~ π, how to solve its flows, the terminal score, global indices. */
export interface BatchInput {
  xT: Tensor;
  solve: BatchSolve;
  terminalScore?: (xT: Tensor) => Tensor;
  first: number;
}

/** Runs `fn` over batches of `--batch` samples and concatenates the results in order. */
export async function forEachBatch<R extends FlowResult>(
  s: FlowSetup,
  f: FlowSettings,
  label: string,
  fn: (b: BatchInput) => Promise<R>,
): Promise<R[]> {
  const { backend, dtype, model, sde, D } = s;
  const progress = new Progress(label, f.n, "samples", f.quiet === true);
  const out: R[] = [];
  for (let first = 0; first < f.n; first += f.batch) {
    const nb = Math.min(f.batch, f.n - first), shape = [nb, ...model.shape];
    const xT = tidy(() =>
      noGrad(() =>
        mul(s.rng.derive("prior").at(first * D).normal(backend, shape, dtype), sde.priorStd)
      )
    );
    const probe = f.divergence === "exact"
      ? null
      : s.rng.derive("probe").at(first * D).rademacher(backend, shape, dtype);
    const atT = () => tensor(backend, new Float64Array(nb).fill(sde.T), [nb], dtype);
    const exact = f.prior === "exact";
    try {
      out.push(
        await fn({
          xT,
          solve: {
            tMin: s.tMin,
            rtol: f.rtol,
            atol: f.atol,
            fixedSteps: f.steps,
            divergence: probe ? { method: "hutchinson", probe } : { method: "exact" },
            terminalLogp: exact ? (y) => model.logp!(y, atT()) : undefined,
          },
          terminalScore: exact ? (y) => model.score(y, atT()) : undefined,
          first,
        }),
      );
    } finally {
      xT.dispose();
      probe?.dispose();
    }
    progress.update(first + nb);
  }
  return out;
}
