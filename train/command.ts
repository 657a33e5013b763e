/**
 * `train`: fit a score model with a likelihood-oriented objective, checkpoint atomically,
 * resume bit-for-bit, and end with the held-out NLL through eval-nll. With no arguments it
 * trains the `toy` preset (an MLP on a 2-D mixture, a few minutes on a 2-core CPU).
 */

import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { UsageError } from "../io/errors.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import type { SdeKind } from "../sde/sde.ts";
import type { Parameterization } from "../sde/model.ts";
import { ADAM_DEFAULT } from "./optim/adam.ts";
import type { Objective, TrainConfig, TrainDequantization } from "./config.ts";
import { PRESET_NAMES, PRESETS } from "./presets.ts";
import type { NetworkConfig } from "../nn/network.ts";
import { isImageSpec } from "../data/image_set.ts";
import { runTraining } from "./run.ts";
import { RunInterrupts } from "./interrupts.ts";
import type { Weighting } from "./objectives/dsm.ts";
import type { TimeSampling } from "./time_sampling.ts";

const int = (flag: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new InvalidArgumentError(`${flag} must be an integer ≥ ${min}, got ${v}`);
  }
  return n;
};
const intList = (flag: string) => (v: string) => {
  const parts = v === "" ? [] : v.split(",").map(Number);
  if (parts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InvalidArgumentError(`${flag} must be comma-separated integers ≥ 1, got ${v}`);
  }
  return parts;
};
const num = (flag: string, lo: number, hi = Infinity) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) {
    throw new InvalidArgumentError(`${flag} must be a number in [${lo}, ${hi}], got ${v}`);
  }
  return n;
};

/** A number in [lo, hi): for a decay, where hi itself would mean "never move". */
const numBelow = (flag: string, lo: number, hi: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n >= hi) {
    throw new InvalidArgumentError(`${flag} must be a number in [${lo}, ${hi}), got ${v}`);
  }
  return n;
};

export const describe =
  "train a score model (dsm, flow or lm objectives) and report its held-out NLL";

export function register(cmd: Command): void {
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
    .option("--n-train <n>", "examples drawn from a toy: or gmm: spec", int("--n-train", 1))
    .addOption(
      new Option("--model <kind>", "network (preset: mlp for points, unet for images)").choices([
        "mlp",
        "unet",
      ]),
    )
    .option("--hidden <n>", "MLP hidden width", int("--hidden", 1))
    .option("--layers <n>", "MLP hidden layers", int("--layers", 1))
    .option("--base <n>", "U-Net base channels", int("--base", 1))
    .option("--mults <list>", "U-Net channel multipliers per level, e.g. 1,2,2", intList("--mults"))
    .option("--res-blocks <n>", "U-Net residual blocks per level", int("--res-blocks", 1))
    .option(
      "--attn <list>",
      "U-Net attention resolutions, e.g. 16 (empty: none)",
      intList("--attn"),
    )
    .option("--groups <n>", "U-Net GroupNorm groups", int("--groups", 1))
    .option("--dropout <p>", "U-Net dropout", num("--dropout", 0, 0.99))
    .addOption(
      new Option("--dequant <kind>", "integer (image) data: uniform draws in each bin, or centres")
        .choices(["uniform", "none"]),
    )
    .option("--flip", "random horizontal flips of training images")
    .addOption(
      new Option("--objective <kind>", "training objective").choices(["dsm", "flow", "lm"]),
    )
    .addOption(
      new Option("--weighting <kind>", "DSM weighting λ(t)").choices(["simple", "likelihood"]),
    )
    .addOption(new Option("--time-sampling <kind>", "DSM times").choices(["uniform", "importance"]))
    .addOption(
      new Option("--param <kind>", "what the network predicts").choices(["eps", "score", "x0"]),
    )
    .addOption(
      new Option("--sde <kind>", "forward process (flow: vdm)").choices([
        "vp",
        "subvp",
        "ve",
        "vdm",
      ]),
    )
    .option(
      "--rank <r>",
      "lm: rank of the covariance head's low-rank part (0: diagonal)",
      int("--rank", 0),
    )
    .option("--time-points <n>", "lm: transitions per forward path", int("--time-points", 1))
    .option("--freeze-score", "lm: train the covariance head only, on the --init score network")
    .option(
      "--high-order <w>",
      "weight of i-DODE's second-order term (flow)",
      num("--high-order", 0),
      0,
    )
    .option("--steps <n>", "optimiser steps", int("--steps", 1))
    .option("--batch <n>", "examples per step", int("--batch", 1))
    .option("--lr <x>", "Adam learning rate", num("--lr", 0, 1))
    .option("--weight-decay <x>", "decoupled weight decay (AdamW)", num("--weight-decay", 0, 1), 0)
    .option("--warmup <n>", "linear learning-rate warm-up steps", int("--warmup", 0))
    .option("--clip <x>", "gradient-norm clipping (0: off)", num("--clip", 0), 1)
    .option(
      "--ema <d>",
      "EMA decay of the weights, in [0, 1) (at 1 the averaged weights would never move)",
      numBelow("--ema", 0, 1),
    )
    .option("--out <dir>", "run directory (default runs/PRESET)")
    .option("--resume", "continue the run in --out exactly")
    .option("--force", "replace the run already in --out (its checkpoints and metrics)")
    .option("--init <ckpt>", "start from a checkpoint's weights with a fresh optimiser")
    .option("--log-every <n>", "steps between loss readbacks", int("--log-every", 1), 50)
    .option("--ckpt-every <n>", "steps between checkpoints", int("--ckpt-every", 1), 500)
    .option("--keep <k>", "numbered checkpoint snapshots to keep", int("--keep", 0), 0)
    .option(
      "--max-bad-steps <k>",
      "non-finite logged losses in a row before stopping",
      int("--max-bad-steps", 1),
      3,
    )
    .option("--eval-examples <n>", "held-out examples for the final NLL", int("--eval-examples", 1))
    .option("--grid <n>", "samples in the PNG grid after an image run (0: none)", int("--grid", 0))
    .option("--grid-steps <n>", "Euler–Maruyama steps for the grid", int("--grid-steps", 1), 200)
    .option("--seed <n>", "seed of every random draw", int("--seed", 0), 0)
    .addOption(
      new Option("--backend <name>", "compute backend").choices(["auto", "webgpu", "reference"])
        .default("auto"),
    )
    .option(
      "--no-autotune",
      "WebGPU: keep the default kernel variants (no per-shape timing or cache)",
    )
    .option("--json", "print the final summary as JSON")
    .option("--quiet", "no progress on stderr")
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
  deno task train --preset cifar10 --data cifar10:~/data/cifar-10-batches-bin --out runs/c10`,
    )
    .action(async (f) => {
      const preset = PRESETS[f.preset];
      const objective = (f.objective ?? preset.objective) as Objective;
      checkLmFlags(f, objective);
      if (f.resume && f.init) {
        throw new UsageError(
          "--resume and --init conflict: resume continues a run, init starts a new one",
        );
      }
      if (f.resume && f.force) {
        throw new UsageError(
          "--resume and --force conflict: resume continues the run in --out, force replaces it",
        );
      }
      const sdeKind = (f.sde ?? (objective === "flow" ? "vdm" : "vp")) as SdeKind;
      if (objective === "flow" && sdeKind !== "vdm") {
        throw new UsageError(
          `--objective flow uses the VDM linear-γ process (i-DODE); --sde ${sdeKind} conflicts`,
        );
      }
      if (objective === "lm" && (f.weighting || f.timeSampling)) {
        throw new UsageError(
          "--weighting and --time-sampling are DSM settings; lm draws its own time points (--time-points)",
        );
      }
      if (objective === "flow" && (f.weighting || f.timeSampling || f.param)) {
        throw new UsageError(
          "--weighting, --time-sampling and --param are DSM settings; flow predicts the velocity",
        );
      }
      if (objective === "dsm" && f.highOrder > 0) {
        throw new UsageError("--high-order is the flow objective's fine-tune term");
      }
      const weighting =
        (f.weighting ?? (objective === "dsm" ? preset.weighting : "simple")) as Weighting;
      const timeSampling = (f.timeSampling ??
        (weighting === "likelihood" ? preset.timeSampling : "uniform")) as TimeSampling;
      if (weighting === "simple" && timeSampling === "importance") {
        throw new UsageError(
          "--time-sampling importance is ScoreFlow's sampler for likelihood weighting; --weighting simple conflicts",
        );
      }
      const sde = makeSde(sdeKind);
      const config: TrainConfig = {
        data: f.data ?? preset.data,
        nTrain: f.nTrain ?? preset.nTrain,
        model: modelConfig(f, preset.model, isImageSpec(f.data ?? preset.data)),
        objective,
        weighting,
        timeSampling,
        param: (objective === "flow" ? "velocity" : f.param ?? "eps") as Parameterization,
        sde: sdeToJson(sde),
        tMin: sde.tMinLikelihood,
        highOrder: f.highOrder,
        batch: f.batch ?? preset.batch,
        adam: { ...ADAM_DEFAULT, lr: f.lr ?? preset.lr, weightDecay: f.weightDecay },
        warmup: f.warmup ?? preset.warmup,
        clip: f.clip,
        ema: f.ema ?? preset.ema,
        seed: f.seed,
        initFrom: null,
        dequant: (f.dequant ?? preset.dequant) as TrainDequantization,
        flip: f.flip ?? preset.flip,
        // the head's network is sized from the score network's once the data fix its shape
        lm: objective === "lm"
          ? {
            rank: f.rank ?? 1,
            timePoints: f.timePoints ?? 4,
            freezeScore: f.freezeScore === true,
            head: { kind: "mlp", dim: 0, hidden: 0, layers: 0, timeFeatures: 0 },
          }
          : null,
      };
      // Ctrl-C is watched from here to the process's end: after an interrupted save, main.ts
      // prints and exits, and a further Ctrl-C must not cut that short
      const interrupts = await RunInterrupts.watch().catch((e) => {
        console.error(`warning: ${e.message}; Ctrl-C will stop the run without saving`);
        return RunInterrupts.inert();
      });
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

function checkLmFlags(
  f: { rank?: number; timePoints?: number; freezeScore?: boolean; init?: string },
  objective: Objective,
): void {
  const lmOnly = [["--rank", f.rank], ["--time-points", f.timePoints], [
    "--freeze-score",
    f.freezeScore,
  ]] as const;
  const stray = lmOnly.find(([, v]) => v !== undefined);
  if (objective !== "lm" && stray) {
    throw new UsageError(`${stray[0]} is a setting of --objective lm (Likelihood Matching)`);
  }
  if (f.freezeScore && !f.init) {
    throw new UsageError(
      "--freeze-score trains the head on a fixed score network: give it with --init CKPT",
    );
  }
}

interface ModelFlags {
  model?: string;
  hidden?: number;
  layers?: number;
  base?: number;
  mults?: number[];
  resBlocks?: number;
  attn?: number[];
  groups?: number;
  dropout?: number;
}

/**
 * The network from the preset's and the flags (a U-Net for images unless --model says
 * otherwise); a flag of the other kind of network is a conflict. The MLP's width and the U-Net's channels and resolution come from the data later.
 */
function modelConfig(f: ModelFlags, base: NetworkConfig, images: boolean): NetworkConfig {
  const kind = f.model ?? (images ? "unet" : base.kind);
  const mlpFlags = [["--hidden", f.hidden], ["--layers", f.layers]] as const;
  const unetFlags = [
    ["--base", f.base],
    ["--mults", f.mults],
    ["--res-blocks", f.resBlocks],
    ["--attn", f.attn],
    ["--groups", f.groups],
    ["--dropout", f.dropout],
  ] as const;
  const foreign = (kind === "mlp" ? unetFlags : mlpFlags).find(([, v]) => v !== undefined);
  if (foreign) throw new UsageError(`${foreign[0]} is not a setting of --model ${kind}`);
  if (kind === "mlp") {
    const b = base.kind === "mlp" ? base : PRESETS.toy.model as NetworkConfig & { kind: "mlp" };
    return { ...b, hidden: f.hidden ?? b.hidden, layers: f.layers ?? b.layers };
  }
  const b = base.kind === "unet" ? base : PRESETS.mnist.model as NetworkConfig & { kind: "unet" };
  return {
    ...b,
    base: f.base ?? b.base,
    mults: f.mults ?? b.mults,
    resBlocks: f.resBlocks ?? b.resBlocks,
    attnResolutions: f.attn ?? b.attnResolutions,
    groups: f.groups ?? b.groups,
    dropout: f.dropout ?? b.dropout,
  };
}

function printTrainSummary(s: Record<string, unknown>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  const h = s.heldout as {
    n: number;
    nll_nats: number;
    nll_stderr: number;
    bpd: number;
    bpd_stderr: number;
    dequantization: string;
    divergence: string;
  };
  console.log(`trained         ${stepsLine(s)} on ${s.backend} → ${s.out}`);
  console.log(`final loss      ${(s.final_loss as number | null)?.toFixed(4) ?? "n/a"}`);
  console.log(
    `held-out NLL    ${h.nll_nats.toFixed(4)} ± ${h.nll_stderr.toFixed(4)} nats per example ` +
      `(${h.n} examples, PF-ODE, ${h.divergence} divergence, EMA weights)`,
  );
  if (h.dequantization !== "none") {
    console.log(
      `bits/dim        ${h.bpd.toFixed(4)} ± ${h.bpd_stderr.toFixed(4)} ` +
        `(${h.dequantization} dequantisation, 1 draw; ${h.divergence} divergence` +
        `${h.divergence === "hutchinson" ? ", 1 probe per example" : ""})`,
    );
  }
  const lm =
    (s.heldout as { lm_bound: { nll_nats: number; nll_stderr: number; steps: number } | null })
      .lm_bound;
  if (lm) {
    console.log(
      `LM chain bound  ${lm.nll_nats.toFixed(4)} ± ${lm.nll_stderr.toFixed(4)} nats per example ` +
        `(${lm.steps} steps, one forward path per example)`,
    );
  }
  if (s.samples_png) console.log(`samples         ${s.samples_png}`);
  if (typeof s.data_entropy_nats === "number") {
    console.log(
      `data entropy    ${
        s.data_entropy_nats.toFixed(4)
      } nats (Monte Carlo; the NLL cannot go below it on average): ` +
        `gap ${(h.nll_nats - s.data_entropy_nats).toFixed(4)}`,
    );
  }
}

/** This invocation's steps: "20 steps in 1.2 s", "15 steps (6–20, resumed from step 5) in …". */
function stepsLine(s: Record<string, unknown>): string {
  const total = s.steps as number, done = s.steps_this_run as number;
  const from = s.resumed_from as number | null;
  if (done === 0) return `no new steps (the run was at step ${total}; final evaluation only)`;
  const span = from === null ? "" : ` (${from + 1}–${total}, resumed from step ${from})`;
  return `${done} steps${span} in ${(s.seconds_training as number).toFixed(1)} s`;
}
