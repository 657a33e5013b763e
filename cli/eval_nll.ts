/**
 * `eval-nll`: exact negative log-likelihood in bits/dim through the PF-ODE, optionally the
 * ScoreFlow bound beside it, sharded for job arrays (`--shard i/n --out PART.json`, then
 * `eval-nll merge PART.json…`).
 */

import { type Command, Option } from "commander";
import { UsageError } from "../io/errors.ts";
import { runMerge } from "../eval/merge.ts";
import { nonNegativeNumber, positiveInt, positiveNumber } from "./flags.ts";
import {
  addRuntimeOptions,
  ckptOption,
  modelOption,
  type OptionKeys,
  RUNTIME_OPTION_KEYS,
  sdeOption,
  weightsOption,
} from "./options.ts";
import { type EvalFlags, runEval } from "./eval_nll_run.ts";
import { addClassOptions, CLASS_OPTION_KEYS } from "./class_options.ts";

export const describe = "exact negative log-likelihood (bits/dim) through the probability-flow ODE";

export const optionKeys = {
  ...RUNTIME_OPTION_KEYS,
  ...CLASS_OPTION_KEYS,
  model: true,
  ckpt: true,
  weights: true,
  data: true,
  limit: true,
  split: true,
  dequant: true,
  dequantSamples: true,
  dequantizer: true,
  divergence: true,
  probe: true,
  probes: true,
  rtol: true,
  atol: true,
  tMin: true,
  sde: true,
  prior: true,
  bound: true,
  steps: true,
  boundSamples: true,
  batch: true,
  perExample: true,
  labels: true,
  shard: true,
  out: true,
} as const satisfies OptionKeys<EvalFlags>;

export function register(cmd: Command): void {
  addRuntimeOptions(
    addClassOptions(cmd)
      .argument("[merge]", "`merge` followed by partial-result files combines shards")
      .argument("[parts...]", "partial results written with --shard i/n --out PART.json")
      .addOption(modelOption())
      .addOption(ckptOption("flag"))
      .addOption(weightsOption())
      .option(
        "--data <spec>",
        "gmm:FILE.json (samples of a mixture), points:FILE (.npy/.json/.csv), or images: mnist, fashion-mnist[:DIR], cifar10:DIR, imagenet32:DIR, images:DIR",
      )
      .option(
        "--limit <n>",
        "evaluate the first n examples (gmm: data, how many to draw; default 1000)",
        positiveInt("--limit"),
      )
      .option("--split <name>", "train|test, for image datasets (test)")
      .addOption(
        new Option("--dequant <kind>", "dequantisation of integer data").choices([
          "uniform",
          "truncated-normal",
          "variational",
          "none",
        ]),
      )
      .option(
        "--dequantizer <file>",
        "--dequant variational: a dequantiser written by train-dequantizer",
      )
      .option(
        "--dequant-samples <k>",
        "importance-weighted dequantisation draws per example",
        positiveInt("--dequant-samples"),
        1,
      )
      .addOption(
        new Option("--divergence <kind>", "divergence of the drift").choices([
          "hutchinson",
          "exact",
        ])
          .default("hutchinson"),
      )
      .addOption(
        new Option("--probe <kind>", "Hutchinson probe distribution").choices([
          "rademacher",
          "gaussian",
        ]).default("rademacher"),
      )
      .option("--probes <k>", "Hutchinson solves averaged per example", positiveInt("--probes"), 1)
      .option("--rtol <x>", "relative tolerance of Dormand–Prince", positiveNumber("--rtol"), 1e-5)
      .option("--atol <x>", "absolute tolerance of Dormand–Prince", positiveNumber("--atol"), 1e-5)
      .option(
        "--t-min <t>",
        "start time of the ODE (default: the process's likelihood t_min; VDM with uniform dequantisation: γ = −11.8)",
        nonNegativeNumber("--t-min"),
      )
      .addOption(sdeOption(false))
      .addOption(
        new Option(
          "--prior <kind>",
          "terminal density of the NLL and the bound: the process's prior, or the mixture's own p_T",
        ).choices(["standard", "exact"]).default("standard"),
      )
      .option(
        "--bound [kind]",
        "also report an upper bound: scoreflow (the default kind) or lm (a Likelihood-Matching checkpoint's own chain)",
      )
      .option("--steps <n>", "grid steps of --bound lm (100)", positiveInt("--steps"))
      .option(
        "--bound-samples <n>",
        "importance-sampled times per example for --bound",
        positiveInt("--bound-samples"),
        1000,
      )
      .option("--batch <n>", "examples per device batch", positiveInt("--batch"), 64)
      .option("--per-example", "list every example's NLL and NFE")
      .option(
        "--labels",
        "class-conditional model, labelled data (a labelled gmm: file or an image set): each example under its own label, −log p(x | y); not with --class, --cfg or --bound",
      )
      .option("--shard <i/n>", "evaluate shard i of n (0-based) and write it with --out")
      .option("--out <file>", "where a shard writes its partial result (JSON)"),
    "print one JSON document on stdout",
  )
    .addHelpText(
      "after",
      `
Examples:
  deno task eval-nll --model gmm:fixtures/mix2d.json --data gmm:fixtures/mix2d.json --limit 200 --divergence exact
  deno task eval-nll --model gmm:fixtures/mix10d.json --data points:my_points.npy --probes 4 --bound --json
  deno task eval-nll --model gmm:m.json --data gmm:m.json --shard 0/4 --out part0.json
  deno task eval-nll merge part0.json part1.json part2.json part3.json
  deno task eval-nll --model gmm:fixtures/mix2l.json --data gmm:fixtures/mix2l.json --prior exact --labels --per-example --json
  deno task eval-nll --ckpt runs/mnist/ckpt.safetensors --data mnist --split test --limit 64 --dequant truncated-normal
  deno task eval-nll --ckpt runs/mnist/ckpt.safetensors --data mnist --limit 64 --dequant variational --dequantizer q.safetensors
  deno task eval-nll --ckpt runs/lm/ckpt.safetensors --data gmm:fixtures/mix2c.json --limit 200 --bound lm --steps 200`,
    )
    .action(async (merge: string | undefined, parts: string[], opts: EvalFlags) => {
      if (merge !== undefined) {
        if (merge !== "merge") {
          throw new UsageError(
            `eval-nll: unexpected argument ${
              JSON.stringify(merge)
            } (did you mean \`eval-nll merge PART.json…\`?)`,
          );
        }
        await runMerge(parts, { json: opts.json === true });
        return;
      }
      await runEval(opts);
    });
}
