/**
 * `sample`: draws from a model by Euler–Maruyama, predictor–corrector, the probability-flow
 * ODE (Dormand–Prince, Heun, Euler), DDIM or EDM's Heun sampler, optionally tracking each sample's log p_{t_min}
 * (docs/MATH.md §4), and writes them where `--out` says.
 */

import { type Command, Option } from "commander";
import {
  nonNegativeInt,
  nonNegativeNumber,
  numberIn,
  positiveInt,
  positiveNumber,
} from "./flags.ts";
import {
  addRuntimeOptions,
  addSamplingModelOptions,
  type OptionKeys,
  RUNTIME_OPTION_KEYS,
  SAMPLING_MODEL_OPTION_KEYS,
} from "./options.ts";
import { runSample, type SampleFlags } from "./sample_run.ts";
import { addClassOptions, CLASS_OPTION_KEYS } from "./class_options.ts";

export const describe =
  "draw samples (EM, predictor–corrector, PF-ODE, DDIM, EDM), optionally with log p";

export const optionKeys = {
  ...RUNTIME_OPTION_KEYS,
  ...SAMPLING_MODEL_OPTION_KEYS,
  ...CLASS_OPTION_KEYS,
  sampler: true,
  steps: true,
  eta: true,
  sChurn: true,
  sTmin: true,
  sTmax: true,
  sNoise: true,
  rtol: true,
  atol: true,
  snr: true,
  correctorSteps: true,
  correctorNorms: true,
  n: true,
  batch: true,
  tMin: true,
  trackLogp: true,
  divergence: true,
  probe: true,
  prior: true,
  out: true,
  detailReport: true,
} as const satisfies OptionKeys<Omit<SampleFlags, "weights">>;

export function register(cmd: Command): void {
  addRuntimeOptions(
    addClassOptions(addSamplingModelOptions(
      cmd.usage("(--model gmm:FILE | --ckpt FILE) --out FILE [options]"),
    ))
      .addOption(
        new Option(
          "--sampler <kind>",
          "em: Euler–Maruyama; pc: predictor–corrector; ode: Dormand–Prince; heun, euler: fixed-step PF-ODE; ddim: DDIM (--eta); edm: EDM's Heun sampler on its σ/α levels; lm: Likelihood Matching's chain (an lm checkpoint or a gmm: model)",
        ).choices(["em", "pc", "ode", "heun", "euler", "ddim", "edm", "lm"]).default("ode"),
      )
      .option(
        "--steps <n>",
        "steps of a fixed-step sampler (em, pc: 1000; heun, euler, ddim: 100; edm: 18, 2N − 1 evaluations; lm: 50)",
        positiveInt("--steps"),
      )
      .option(
        "--eta <η>",
        "DDIM's stochasticity in [0, 1]: 0 deterministic (the default), 1 ancestral; ddim",
        numberIn("--eta", 0, 1),
      )
      .option(
        "--s-churn <x>",
        "EDM's churn S_churn (0: deterministic); each level in the window is raised by γ = min(S_churn/N, √2 − 1); edm",
        nonNegativeNumber("--s-churn"),
      )
      .option(
        "--s-tmin <σ>",
        "lowest noise-to-signal ratio σ/α that churns (0; edm, --s-churn)",
        nonNegativeNumber("--s-tmin"),
      )
      .option(
        "--s-tmax <σ>",
        "highest noise-to-signal ratio σ/α that churns (no limit; edm, --s-churn)",
        nonNegativeNumber("--s-tmax"),
      )
      .option(
        "--s-noise <x>",
        "scale of the churn's noise, S_noise (1; edm, --s-churn)",
        positiveNumber("--s-noise"),
      )
      .option(
        "--rtol <x>",
        "Dormand–Prince relative tolerance (1e-5; ode)",
        positiveNumber("--rtol"),
      )
      .option(
        "--atol <x>",
        "Dormand–Prince absolute tolerance (1e-5; ode)",
        positiveNumber("--atol"),
      )
      .option(
        "--snr <r>",
        "Langevin corrector signal-to-noise ratio (0.16; pc)",
        positiveNumber("--snr"),
      )
      .option(
        "--corrector-steps <k>",
        "Langevin steps per predictor step (1; pc)",
        nonNegativeInt("--corrector-steps"),
      )
      .addOption(
        new Option(
          "--corrector-norms <kind>",
          "Langevin step from batch-mean norms (score_sde; batch) or each sample's own (example: batch-independent, sound only in high dimension); pc",
        ).choices(["batch", "example"]),
      )
      .option("--n <n>", "number of samples", positiveInt("--n"), 64)
      .option("--batch <n>", "samples per device batch", positiveInt("--batch"), 64)
      .option(
        "--t-min <t>",
        "where sampling stops (default: the process's sampling t_min)",
        nonNegativeNumber("--t-min"),
      )
      .option("--track-logp", "also track each sample's log p_{t_min} along its trajectory")
      .addOption(
        new Option("--divergence <kind>", "divergence for --track-logp (hutchinson)").choices([
          "hutchinson",
          "exact",
        ]),
      )
      .addOption(
        new Option("--probe <kind>", "Hutchinson probe, fixed per trajectory (rademacher)").choices(
          [
            "rademacher",
            "gaussian",
          ],
        ),
      )
      .addOption(
        new Option(
          "--prior <kind>",
          "log p at T for --track-logp: the process's prior, or an analytic model's own p_T (standard)",
        ).choices(["standard", "exact"]),
      )
      .option("--out <file>", "where the samples go: .png, .npy or .json (required)")
      .option(
        "--detail-report",
        "images: each sample's PNG size against −log p_0 in OUT.detail.csv, with Pearson and Spearman correlations (needs --track-logp)",
      ),
    "print one JSON document on stdout",
  )
    .addHelpText(
      "after",
      `
Examples:
  deno run -P main.ts sample --model gmm:fixtures/mix2d.json --sampler ode --n 500 --track-logp --divergence exact --out samples.png
  deno run -P main.ts sample --model gmm:fixtures/mix10d.json --sampler em --steps 2000 --track-logp --prior exact --out x.npy --json
  deno run -P main.ts sample --ckpt runs/toy/ckpt.safetensors --sampler pc --steps 500 --n 1000 --out toy.png
  deno run -P main.ts sample --model gmm:fixtures/mix2d.json --sampler ddim --steps 50 --track-logp --out ddim.png
  deno run -P main.ts sample --model gmm:fixtures/mix2d.json --sampler edm --steps 18 --track-logp --out edm.png
  deno run -P main.ts sample --ckpt runs/lm/ckpt.safetensors --sampler lm --steps 20 --n 1000 --out lm.png
  deno run -P main.ts sample --ckpt runs/mnist-cfg/ckpt.safetensors --class 3 --cfg 2 --n 64 --out threes.png
  deno run -P main.ts sample --ckpt runs/mnist/ckpt.safetensors --sampler heun --steps 200 --n 64 --track-logp --detail-report --out mnist.png`,
    )
    .action(async (opts: SampleFlags) => {
      await runSample(opts);
    });
}
