/**
 * The options several commands share, each declared once here: how a run executes (--seed,
 * --backend, --no-autotune, --json, --quiet; every command ends its options with them) and which
 * model it reads (--model, --ckpt, --sde, --weights; `load_model.ts` turns them into a model).
 */

import { type Command, Option } from "commander";
import { type Backend, type BackendName, selectBackend } from "../compute/mod.ts";
import type { SdeKind } from "../sde/sde.ts";
import { SDE_KINDS } from "../sde/processes.ts";
import { seedFlag } from "./flags.ts";

/**
 * Every option a command registers, by attribute name (`--no-autotune` is `autotune`). A command
 * lists its flags interface's keys as `{ … } satisfies OptionKeys<Flags>`: a key missing from the
 * list, or one the interface lacks, is a type error, and tests/cli_options_test.ts checks the list
 * against the options the command registers, so the interface its action receives stays true.
 */
export type OptionKeys<F> = Record<keyof F, true>;

export const RUNTIME_OPTION_KEYS = {
  seed: true,
  backend: true,
  autotune: true,
  json: true,
  quiet: true,
} as const satisfies OptionKeys<RuntimeOptions>;

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
export function addRuntimeOptions(cmd: Command, json: string): Command {
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

/** The sampling commands' model options: they read a checkpoint's EMA weights (no --weights). */
export const SAMPLING_MODEL_OPTION_KEYS = {
  model: true,
  ckpt: true,
  sde: true,
} as const satisfies OptionKeys<Omit<ModelOptions, "weights">>;

/** --model, --ckpt (EMA weights) and --sde, in that order: the sampling commands' model. */
export function addSamplingModelOptions(cmd: Command): Command {
  return cmd.addOption(modelOption()).addOption(ckptOption("ema")).addOption(sdeOption(true));
}
