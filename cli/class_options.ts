/**
 * `--class K`, `--cfg W` and `--cfg-gamma G`: the class-conditional model of `sample`,
 * `guidance` and `eval-nll`. `--class K` alone is p(x | K); `--cfg W` adds classifier-free
 * guidance s̃ = (1 + W)·s(x | K) − W·s(x) (sample/cfg.ts), `--cfg-gamma G` the same field as
 * s + G·(s(x | K) − s) (G = 1 + W). `cli/load_model.ts` applies them to the model it loads.
 */

import { type Command, InvalidArgumentError } from "commander";
import { UsageError } from "../io/errors.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { classifierFreeGuidance } from "../sample/cfg.ts";
import { nonNegativeInt } from "./flags.ts";
import type { OptionKeys } from "./options.ts";

export interface ClassOptions {
  /** condition on this class */
  class?: number;
  /** classifier-free guidance weight w */
  cfg?: number;
  /** the same guidance as γ = 1 + w */
  cfgGamma?: number;
}

export const CLASS_OPTION_KEYS = {
  class: true,
  cfg: true,
  cfgGamma: true,
} as const satisfies OptionKeys<ClassOptions>;

/** Any finite number (negative weights interpolate toward the unconditional model). */
const finite = (flag: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`${flag} must be a finite number, got ${v}`);
  }
  return n;
};

export function addClassOptions(cmd: Command): Command {
  return cmd
    .option(
      "--class <k>",
      "condition a class-conditional model on class K (0-based): p(x | K)",
      nonNegativeInt("--class"),
    )
    .option(
      "--cfg <w>",
      "classifier-free guidance weight w: score (1 + w)·s(x | K) − w·s(x) (0: conditional, −1: unconditional); needs --class",
      finite("--cfg"),
    )
    .option(
      "--cfg-gamma <g>",
      "classifier-free guidance as s(x) + g·(s(x | K) − s(x)) (1: conditional, 0: unconditional; g = 1 + w); needs --class",
      finite("--cfg-gamma"),
    );
}

/** Flag-only checks: guidance needs a class, and one form of it. */
export function checkClassOptions(o: ClassOptions): void {
  if (o.cfg !== undefined && o.cfgGamma !== undefined) {
    throw new UsageError(
      "--cfg and --cfg-gamma conflict: they are two forms of one weight (g = 1 + w)",
    );
  }
  for (const [flag, v] of [["--cfg", o.cfg], ["--cfg-gamma", o.cfgGamma]] as const) {
    if (v !== undefined && o.class === undefined) {
      throw new UsageError(`${flag} guides toward a class: give it with --class K`);
    }
  }
}

/** The model the class options ask for: `model` itself without --class. */
export function conditionModel(model: DiffusionModel, o: ClassOptions): DiffusionModel {
  if (o.class === undefined) return model;
  if (!model.withLabel || model.classes === undefined) {
    throw new UsageError(
      `--class ${o.class}: ${model.description} is not class-conditional (train with --label-dropout, or give a gmm: file with "classes")`,
    );
  }
  if (o.class >= model.classes) {
    throw new UsageError(
      `--class ${o.class}: expected a class in 0…${
        model.classes - 1
      } (${model.description} has ${model.classes})`,
    );
  }
  if (o.cfg !== undefined) return classifierFreeGuidance(model, o.class, { w: o.cfg });
  if (o.cfgGamma !== undefined) {
    return classifierFreeGuidance(model, o.class, { gamma: o.cfgGamma });
  }
  return model.withLabel(o.class);
}
