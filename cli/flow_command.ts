/**
 * What `hd-mode` and `guidance` share on the command line: the flags every mode takes, their
 * checks (each error names its flag), and the opening of a run (backend, model) before the
 * checks of `sample/flow/batches.ts`.
 */

import { type Command, Option } from "commander";
import type { DType } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import { type FlowSetup, prepareFlow } from "../sample/flow/batches.ts";
import type { FlowReportSettings } from "../sample/flow/report.ts";
import { nonNegativeNumber, positiveInt, positiveNumber } from "./flags.ts";
import {
  addRuntimeOptions,
  addSamplingModelOptions,
  type ModelOptions,
  openBackend,
  type OptionKeys,
  RUNTIME_OPTION_KEYS,
  type RuntimeOptions,
  SAMPLING_MODEL_OPTION_KEYS,
} from "./options.ts";
import { checkModelOptions, loadModel } from "./load_model.ts";

export interface FlowFlags extends RuntimeOptions, ModelOptions {
  n: number;
  batch: number;
  rtol: number;
  atol: number;
  steps?: number;
  divergence: "hutchinson" | "exact";
  prior: "standard" | "exact";
  tMin?: number;
  out?: string;
  detailReport?: boolean;
}

export const FLOW_OPTION_KEYS = {
  ...RUNTIME_OPTION_KEYS,
  ...SAMPLING_MODEL_OPTION_KEYS,
  n: true,
  batch: true,
  rtol: true,
  atol: true,
  steps: true,
  divergence: true,
  prior: true,
  tMin: true,
  out: true,
  detailReport: true,
} as const satisfies OptionKeys<Omit<FlowFlags, "weights">>;

/** Registers the flags of every mode after the caller's own. */
export function addFlowOptions(cmd: Command): Command {
  return addRuntimeOptions(
    addSamplingModelOptions(cmd)
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
      ),
    "print one JSON document on stdout",
  );
}

/**
 * The flag checks, then the backend and the model, then the checks that need the model: what
 * a flow run needs before its batches. Returns the settings with `--out` known to be given.
 */
export async function openFlow<F extends FlowFlags>(
  f: F,
  command: string,
): Promise<{ s: FlowSetup; settings: F & FlowReportSettings }> {
  if (!f.out) throw new UsageError(`${command} needs --out FILE (.png, .npy or .json)`);
  if (f.detailReport && f.n < 2) {
    throw new UsageError("--detail-report correlates ≥ 2 samples; raise --n");
  }
  checkModelOptions(f, "give --ckpt FILE (a trained network) or --model gmm:FILE.json");
  const settings = { ...f, out: f.out };
  const started = performance.now();
  const log = (line: string) => f.quiet || console.error(line);
  const backend = await openBackend(f, log);
  const dtype: DType = backend.supports("f64") ? "f64" : "f32";
  const model = await loadModel(f, backend, dtype);
  const s = await prepareFlow(settings, { backend, dtype, model, log, started });
  return { s, settings };
}
