/**
 * What `hd-mode` and `guidance` share on the command line: the flags every mode takes, their
 * checks (each error names its flag), the setup before any work (backend, model, `--out`,
 * t_min), the batch loop with draws keyed by each sample's global index, and the JSON fields
 * every report carries. Latents and probes use the `sample` command's streams ("prior",
 * "probe"), so the same seed gives the same x_T there and here.
 */

import { type Command, Option } from "@commander-js/extra-typings";
import {
  type Backend,
  type DivergenceMethod,
  type DType,
  mul,
  noGrad,
  Rng,
  selectBackend,
  type Tensor,
  tensor,
  tidy,
} from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import { Progress } from "../io/progress.ts";
import type { DiffusionModel } from "../sde/model.ts";
import type { Sde } from "../sde/sde.ts";
import { checkOutputPath, checkOutputWritable } from "./output.ts";
import { checkDetailReport } from "./detail_report.ts";
import { resolveSamplingModel } from "./resolve_model.ts";
import type { FlowResult } from "./guidance_segments.ts";

export interface CommonFlags {
  model?: string;
  ckpt?: string;
  sde?: string;
  n: number;
  batch: number;
  rtol: number;
  atol: number;
  steps?: number;
  divergence: string;
  prior: string;
  tMin?: number;
  out?: string;
  detailReport?: boolean;
  seed: number;
  backend: string;
  /** false under --no-autotune */
  autotune?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export { numberFlag, positiveInt, positiveNumber, probability } from "../io/flags.ts";
import { nonNegativeNumber, positiveInt, positiveNumber, seedFlag } from "../io/flags.ts";

/** Registers the flags of every mode; the caller adds its own before or after. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option("--model <spec>", "analytic model, gmm:FILE.json")
    .option("--ckpt <file>", "trained checkpoint (ckpt.safetensors of a train run; EMA weights)")
    .addOption(
      new Option("--sde <kind>", "process of an analytic model (vp)").choices([
        "vp",
        "subvp",
        "ve",
        "vdm",
      ]),
    )
    .option("--n <n>", "number of samples", positiveInt("--n"), 16)
    .option("--batch <n>", "samples per device batch", positiveInt("--batch"), 64)
    .option("--rtol <x>", "Dormand–Prince relative tolerance", positiveNumber("--rtol"), 1e-5)
    .option("--atol <x>", "Dormand–Prince absolute tolerance", positiveNumber("--atol"), 1e-5)
    .option(
      "--steps <n>",
      "fixed Dormand–Prince steps per ODE segment instead of step control",
      positiveInt("--steps"),
    )
    .addOption(
      new Option(
        "--divergence <kind>",
        "Δlog p = ∇·s: D exact VJPs, or one Rademacher probe fixed per trajectory",
      )
        .choices(["hutchinson", "exact"]).default("hutchinson"),
    )
    .addOption(
      new Option(
        "--prior <kind>",
        "log p at T: the process's prior π, or an analytic model's own p_T",
      )
        .choices(["standard", "exact"]).default("standard"),
    )
    .option(
      "--t-min <t>",
      "where sampling stops (default: the process's sampling t_min)",
      nonNegativeNumber("--t-min"),
    )
    .option("--out <file>", "where the samples go: .png, .npy or .json (required)")
    .option(
      "--detail-report",
      "images: each sample's PNG size against −log p_0 in OUT.detail.csv, with Pearson and Spearman correlations",
    )
    .option(
      "--seed <n>",
      "seed of every random draw",
      seedFlag("--seed"),
      0,
    )
    .addOption(
      new Option("--backend <name>", "compute backend").choices(["auto", "webgpu", "reference"])
        .default("auto"),
    )
    .option(
      "--no-autotune",
      "WebGPU: keep the default kernel variants (no per-shape timing or cache)",
    )
    .option("--json", "print one JSON document on stdout")
    .option("--quiet", "no progress on stderr");
}

export interface Setup {
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

/** Everything checkable before sampling: the flags, the model, the output path, t_min. */
export async function setup(f: CommonFlags, command: string): Promise<Setup> {
  if (!f.out) throw new UsageError(`${command} needs --out FILE (.png, .npy or .json)`);
  if (f.detailReport && f.n < 2) {
    throw new UsageError("--detail-report correlates ≥ 2 samples; raise --n");
  }
  const started = performance.now();
  const log = (line: string) => f.quiet || console.error(line);
  const backend = await selectBackend(f.backend as "auto" | "webgpu" | "reference", log, {
    autotune: f.autotune !== false,
  });
  const dtype: DType = backend.supports("f64") ? "f64" : "f32";
  const model = await resolveSamplingModel(f, backend, dtype);
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
  const D = model.shape.reduce((p, d) => p * d, 1);
  return { backend, dtype, model, sde, tMin, D, rng: Rng.fromSeed(f.seed), log, started };
}

/** One batch's inputs: x_T ~ π, the divergence method, the terminal density, global indices. */
export interface BatchInput {
  xT: Tensor;
  divergence: DivergenceMethod;
  terminalLogp?: (xT: Tensor) => Tensor;
  terminalScore?: (xT: Tensor) => Tensor;
  first: number;
}

/** Runs `fn` over batches of `--batch` samples and concatenates the results in order. */
export async function forEachBatch<R extends FlowResult>(
  s: Setup,
  f: CommonFlags,
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
          divergence: probe ? { method: "hutchinson", probe } : { method: "exact" },
          terminalLogp: exact ? (y) => model.logp!(y, atT()) : undefined,
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
