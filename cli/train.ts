/**
 * `train`: fit a score model with a likelihood-oriented objective, checkpoint atomically,
 * resume bit-for-bit, and end with the held-out NLL through eval-nll. With no arguments it
 * trains the `toy` preset (an MLP on a 2-D mixture, a few minutes on a 2-core CPU).
 */

import { type Command, Option } from "commander";
import { SDE_KINDS } from "../sde/processes.ts";
import { PRESET_NAMES, PRESETS } from "../train/presets.ts";
import { RunInterrupts } from "../train/interrupts.ts";
import { intAtLeast, intListFlag, numberBelow, numberIn } from "./flags.ts";
import {
  addRuntimeOptions,
  type OptionKeys,
  RUNTIME_OPTION_KEYS,
  type RuntimeOptions,
} from "./options.ts";
import { trainConfig, type TrainFlags } from "./train_config.ts";
import { runTraining } from "./train_run.ts";
import { printTrainSummary } from "./train_summary.ts";

export const describe =
  "train a score model (dsm, flow or lm objectives) and report its held-out NLL";

/** Every flag of `train`: the configuration's, the run's (steps, output, logging) and the runtime's. */
interface TrainCommandFlags extends TrainFlags, RuntimeOptions {
  steps?: number;
  out?: string;
  logEvery: number;
  ckptEvery: number;
  keep: number;
  maxBadSteps: number;
  evalExamples?: number;
  grid?: number;
  gridSteps: number;
}

export const optionKeys = {
  ...RUNTIME_OPTION_KEYS,
  preset: true,
  data: true,
  nTrain: true,
  model: true,
  hidden: true,
  layers: true,
  base: true,
  mults: true,
  resBlocks: true,
  attn: true,
  groups: true,
  dropout: true,
  dequant: true,
  flip: true,
  objective: true,
  weighting: true,
  timeSampling: true,
  param: true,
  sde: true,
  rank: true,
  timePoints: true,
  freezeScore: true,
  highOrder: true,
  labelDropout: true,
  steps: true,
  batch: true,
  lr: true,
  weightDecay: true,
  warmup: true,
  clip: true,
  ema: true,
  out: true,
  resume: true,
  force: true,
  init: true,
  logEvery: true,
  ckptEvery: true,
  keep: true,
  maxBadSteps: true,
  evalExamples: true,
  grid: true,
  gridSteps: true,
} as const satisfies OptionKeys<TrainCommandFlags>;

export function register(cmd: Command): void {
  addRuntimeOptions(
    cmd
      .addOption(
        new Option("--preset <name>", "defaults for a whole run").choices(PRESET_NAMES).default(
          "toy",
        ),
      )
      .option(
        "--data <spec>",
        "toy:NAME, gmm:FILE.json, points:FILE, mnist, fashion-mnist[:DIR], cifar10:DIR, imagenet32:DIR, images:DIR",
      )
      .option(
        "--n-train <n>",
        "examples drawn from a toy: or gmm: spec",
        intAtLeast("--n-train", 1),
      )
      .addOption(
        new Option("--model <kind>", "network (preset: mlp for points, unet for images)").choices([
          "mlp",
          "unet",
        ]),
      )
      .option("--hidden <n>", "MLP hidden width", intAtLeast("--hidden", 1))
      .option("--layers <n>", "MLP hidden layers", intAtLeast("--layers", 1))
      .option("--base <n>", "U-Net base channels", intAtLeast("--base", 1))
      .option(
        "--mults <list>",
        "U-Net channel multipliers per level, e.g. 1,2,2",
        intListFlag("--mults"),
      )
      .option("--res-blocks <n>", "U-Net residual blocks per level", intAtLeast("--res-blocks", 1))
      .option(
        "--attn <list>",
        "U-Net attention resolutions, e.g. 16 (empty: none)",
        intListFlag("--attn"),
      )
      .option("--groups <n>", "U-Net GroupNorm groups", intAtLeast("--groups", 1))
      .option("--dropout <p>", "U-Net dropout", numberIn("--dropout", 0, 0.99))
      .addOption(
        new Option(
          "--dequant <kind>",
          "integer (image) data: uniform draws in each bin, or centres",
        )
          .choices(["uniform", "none"]),
      )
      .option("--flip", "random horizontal flips of training images")
      .addOption(
        new Option("--objective <kind>", "training objective").choices(["dsm", "flow", "lm"]),
      )
      .addOption(
        new Option("--weighting <kind>", "DSM weighting λ(t)").choices(["simple", "likelihood"]),
      )
      .addOption(
        new Option("--time-sampling <kind>", "DSM times").choices(["uniform", "importance"]),
      )
      .addOption(
        new Option("--param <kind>", "what the network predicts").choices(["eps", "score", "x0"]),
      )
      .addOption(
        new Option("--sde <kind>", "forward process (flow: vdm or sp)").choices(SDE_KINDS),
      )
      .option(
        "--rank <r>",
        "lm: rank of the covariance head's low-rank part (0: diagonal)",
        intAtLeast("--rank", 0),
      )
      .option(
        "--time-points <n>",
        "lm: transitions per forward path",
        intAtLeast("--time-points", 1),
      )
      .option("--freeze-score", "lm: train the covariance head only, on the --init score network")
      .option(
        "--high-order <w>",
        "weight of i-DODE's second-order term (flow)",
        numberIn("--high-order", 0),
        0,
      )
      .option(
        "--label-dropout <p>",
        "train a class-conditional network on labelled data (mnist, fashion-mnist, cifar10, a gmm: file with classes), each label dropped with probability p, for classifier-free guidance",
        numberBelow("--label-dropout", 0, 1),
      )
      .option("--steps <n>", "optimiser steps", intAtLeast("--steps", 1))
      .option("--batch <n>", "examples per step", intAtLeast("--batch", 1))
      .option("--lr <x>", "Adam learning rate", numberIn("--lr", 0, 1))
      .option(
        "--weight-decay <x>",
        "decoupled weight decay (AdamW)",
        numberIn("--weight-decay", 0, 1),
        0,
      )
      .option("--warmup <n>", "linear learning-rate warm-up steps", intAtLeast("--warmup", 0))
      .option("--clip <x>", "gradient-norm clipping (0: off)", numberIn("--clip", 0), 1)
      .option(
        "--ema <d>",
        "EMA decay of the weights, in [0, 1) (at 1 the averaged weights would never move)",
        numberBelow("--ema", 0, 1),
      )
      .option("--out <dir>", "run directory (default runs/PRESET)")
      .option("--resume", "continue the run in --out exactly")
      .option("--force", "replace the run already in --out (its checkpoints and metrics)")
      .option("--init <ckpt>", "start from a checkpoint's weights with a fresh optimiser")
      .option("--log-every <n>", "steps between loss readbacks", intAtLeast("--log-every", 1), 50)
      .option("--ckpt-every <n>", "steps between checkpoints", intAtLeast("--ckpt-every", 1), 500)
      .option("--keep <k>", "numbered checkpoint snapshots to keep", intAtLeast("--keep", 0), 0)
      .option(
        "--max-bad-steps <k>",
        "non-finite logged losses in a row before stopping",
        intAtLeast("--max-bad-steps", 1),
        3,
      )
      .option(
        "--eval-examples <n>",
        "held-out examples for the final NLL",
        intAtLeast("--eval-examples", 1),
      )
      .option(
        "--grid <n>",
        "samples in the PNG grid after an image run (0: none)",
        intAtLeast("--grid", 0),
      )
      .option(
        "--grid-steps <n>",
        "Euler–Maruyama steps for the grid",
        intAtLeast("--grid-steps", 1),
        200,
      ),
    "print the final summary as JSON",
  )
    .addHelpText(
      "after",
      `
Examples:
  deno task train                                   # the toy preset, then its held-out NLL
  deno task train --objective dsm --weighting simple --time-sampling uniform --out runs/simple
  deno task train --objective flow --sde vdm --out runs/flow
  deno task train --objective flow --sde vdm --high-order 0.1 --init runs/flow/ckpt.safetensors --out runs/flow-ho
  deno task train --out runs/toy --resume --steps 6000
  deno task train --out runs/toy --force                          # start runs/toy over
  deno task train --objective lm --rank 1 --out runs/lm           # Likelihood Matching
  deno task train --objective lm --init runs/toy/ckpt.safetensors --freeze-score --out runs/lm-head
  deno task train --preset mnist --steps 500 --out runs/mnist    # U-Net on the 10,000 digits
  deno task train --preset mnist --label-dropout 0.1 --out runs/mnist-cfg   # class-conditional
  deno task train --preset cifar10 --data cifar10:~/data/cifar-10-batches-bin --out runs/c10`,
    )
    .action(async (f: TrainCommandFlags) => {
      const config = trainConfig(f);
      // Ctrl-C is watched from here to the process's end: after an interrupted save, main.ts
      // prints and exits, and a further Ctrl-C must not cut that short
      const interrupts = await RunInterrupts.watch().catch((e) => {
        console.error(`warning: ${e.message}; Ctrl-C will stop the run without saving`);
        return RunInterrupts.inert();
      });
      const preset = PRESETS[f.preset];
      const summary = await runTraining(config, {
        steps: f.steps ?? preset.steps,
        out: f.out ?? `runs/${f.preset}`,
        resume: f.resume === true,
        force: f.force === true,
        interrupts,
        init: f.init,
        backend: f.backend,
        autotune: f.autotune,
        logEvery: f.logEvery,
        ckptEvery: f.ckptEvery,
        keep: f.keep,
        maxBadSteps: f.maxBadSteps,
        evalExamples: f.evalExamples ?? preset.evalExamples,
        gridSamples: f.grid ?? preset.gridSamples,
        gridSteps: f.gridSteps,
        json: f.json === true,
        quiet: f.quiet === true,
      });
      interrupts.dispose();
      printTrainSummary(summary, f.json === true);
    });
}
