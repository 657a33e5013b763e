/**
 * The options several commands share, each declared once here: how a run executes (--seed,
 * --backend, --no-autotune, --json, --quiet; every command ends its options with them) and which
 * model it reads (--model, --ckpt, --sde, --weights; `load_model.ts` turns them into a model).
 */

import { type Command, Option, type OptionValues } from "@commander-js/extra-typings";
import { type Backend, type BackendName, selectBackend } from "../compute/mod.ts";
import type { SdeKind } from "../sde/sde.ts";
import { SDE_KINDS } from "../sde/processes.ts";
import { seedFlag } from "./flags.ts";

export interface RuntimeOptions {
  seed: number;
  backend: BackendName;
  /** false under --no-autotune */
  autotune?: boolean;
  json?: boolean;
  quiet?: boolean;
}

const BACKENDS = ["auto", "cpu", "webgpu", "reference"] as const satisfies readonly BackendName[];

/** --seed, --backend, --no-autotune, --json (its help says what the JSON holds) and --quiet. */
export function addRuntimeOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(cmd: Command<Args, Opts, Globals>, json: string) {
  return cmd
    .option("--seed <n>", "seed of every random draw", seedFlag("--seed"), 0)
    .addOption(new Option("--backend <name>", "compute backend").choices(BACKENDS).default("auto"))
    .option(
      "--no-autotune",
      "WebGPU: keep the default kernel variants (no per-shape timing or cache)",
    )
    .option("--json", json)
    .option("--quiet", "no progress on stderr");
}

/** The backend the runtime options ask for, its choice reported through `log`. */
export function openBackend(
  o: Pick<RuntimeOptions, "backend" | "autotune">,
  log: (line: string) => void,
): Promise<Backend> {
  return selectBackend(o.backend, log, { autotune: o.autotune !== false });
}

export interface ModelOptions {
  /** an analytic model, `gmm:FILE.json` */
  model?: string;
  /** a trained checkpoint */
  ckpt?: string;
  /** the process of an analytic model (a checkpoint brings its own) */
  sde?: SdeKind;
  /** a checkpoint's EMA (the default) or raw weights */
  weights?: "ema" | "raw";
}

export const modelOption = () => new Option("--model <spec>", "analytic model, gmm:FILE.json");

/** `--ckpt`; where the command has no --weights, its help says the EMA weights are used. */
export const ckptOption = (weights: "flag" | "ema") =>
  new Option(
    "--ckpt <file>",
    `trained checkpoint (ckpt.safetensors of a train run${
      weights === "ema" ? "; EMA weights" : ""
    })`,
  );

export const weightsOption = () =>
  new Option("--weights <kind>", "a checkpoint's EMA or raw weights").choices(["ema", "raw"])
    .default("ema");

/** `--sde` of an analytic model; `showDefault` names the default (vp) in the help. */
export const sdeOption = (showDefault: boolean) =>
  new Option("--sde <kind>", `process of an analytic model${showDefault ? " (vp)" : ""}`)
    .choices(SDE_KINDS);

/** --model, --ckpt (EMA weights) and --sde, in that order: the sampling commands' model. */
export function addSamplingModelOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(cmd: Command<Args, Opts, Globals>) {
  return cmd.addOption(modelOption()).addOption(ckptOption("ema")).addOption(sdeOption(true));
}
