/**
 * `train-dequantizer`: fits a variational dequantiser q_φ(u | k) (docs/variational_dequantization.md)
 * to a fixed model on discrete data, by Adam on the ELBO with the model's exact log p (analytic
 * mixtures) or its ScoreFlow bound (trained networks), and saves it for
 * `eval-nll --dequant variational --dequantizer FILE`.
 */

import { type Command, Option } from "commander";
import { type DType, Rng } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from "./flags.ts";
import {
  addRuntimeOptions,
  ckptOption,
  modelOption,
  type ModelOptions,
  openBackend,
  type OptionKeys,
  RUNTIME_OPTION_KEYS,
  type RuntimeOptions,
  sdeOption,
  weightsOption,
} from "./options.ts";
import { checkModelOptions, loadModel } from "./load_model.ts";
import { resolveData } from "../eval/resolve.ts";
import { isImageSpec, type Split } from "../data/image_set.ts";
import { likelihoodTMin } from "../eval/dequantization.ts";
import { saveDequantizer } from "../eval/variational_dequant.ts";
import { initDequantizer } from "../nn/dequantizer.ts";
import type { CouplingFlowConfig } from "../nn/coupling_flow.ts";
import { trainDequantizer } from "../train/dequantizer_train.ts";
import type { DequantizerObjective } from "../train/dequantizer_objective.ts";

export const describe =
  "fit a variational dequantiser q(u | k) to a model on discrete data (for eval-nll --dequant variational)";

export interface TrainDequantizerFlags extends RuntimeOptions, ModelOptions {
  data?: string;
  split?: string;
  limit?: number;
  objective?: DequantizerObjective;
  steps: number;
  batch: number;
  lr: number;
  clip: number;
  couplings: number;
  hidden?: number;
  tMin?: number;
  logEvery: number;
  out?: string;
}

export const optionKeys = {
  ...RUNTIME_OPTION_KEYS,
  model: true,
  ckpt: true,
  weights: true,
  sde: true,
  data: true,
  split: true,
  limit: true,
  objective: true,
  steps: true,
  batch: true,
  lr: true,
  clip: true,
  couplings: true,
  hidden: true,
  tMin: true,
  logEvery: true,
  out: true,
} as const satisfies OptionKeys<TrainDequantizerFlags>;

export function register(cmd: Command): void {
  addRuntimeOptions(
    cmd
      .addOption(modelOption())
      .addOption(ckptOption("flag"))
      .addOption(weightsOption())
      .addOption(sdeOption(false))
      .option(
        "--data <spec>",
        "discrete data: mnist, fashion-mnist[:DIR], cifar10:DIR, imagenet32:DIR, images:DIR, points:FILE,discrete or an integer .npy",
      )
      .option("--split <name>", "train|test, for image datasets (train)")
      .option("--limit <n>", "train on the first n examples", positiveInt("--limit"))
      .addOption(
        new Option(
          "--objective <kind>",
          "log p in the ELBO: exact (analytic models; their default) or the ScoreFlow bound (networks' default)",
        ).choices(["exact", "bound"]),
      )
      .option("--steps <n>", "Adam steps", positiveInt("--steps"), 300)
      .option("--batch <n>", "examples per step (one draw of q each)", positiveInt("--batch"), 64)
      .option("--lr <x>", "Adam learning rate", positiveNumber("--lr"), 1e-3)
      .option("--clip <x>", "gradient-norm clipping (0: off)", nonNegativeNumber("--clip"), 0)
      .option(
        "--couplings <n>",
        "affine coupling layers (the first sees only k)",
        positiveInt("--couplings"),
        4,
      )
      .option(
        "--hidden <n>",
        "width of each coupling's network (points: 32, images: 16 channels)",
        positiveInt("--hidden"),
      )
      .option(
        "--t-min <t>",
        "the likelihood's t_min (default: as eval-nll for uniform dequantisation)",
        nonNegativeNumber("--t-min"),
      )
      .option("--log-every <n>", "steps between progress lines", nonNegativeInt("--log-every"), 25)
      .option("--out <file>", "where to write the dequantiser (.safetensors)"),
    "print the final summary as JSON",
  )
    .addHelpText(
      "after",
      `
Examples:
  deno run -P main.ts train-dequantizer --model gmm:m.json --data points:counts.csv,discrete --out q.safetensors
  deno run -P main.ts train-dequantizer --ckpt runs/mnist/ckpt.safetensors --data mnist --steps 300 --out mnist_q.safetensors
  deno task eval-nll --ckpt runs/mnist/ckpt.safetensors --data mnist --dequant variational --dequantizer mnist_q.safetensors`,
    )
    .action(async (opts: TrainDequantizerFlags) => await runTrainDequantizer(opts));
}

const isSplit = (name: string): name is Split => name === "train" || name === "test";

async function runTrainDequantizer(f: TrainDequantizerFlags): Promise<void> {
  checkModelOptions(f, "train-dequantizer needs --model gmm:FILE.json or --ckpt FILE (see --help)");
  if (!f.data) throw new UsageError("train-dequantizer needs --data SPEC (discrete data)");
  if (!f.out) throw new UsageError("train-dequantizer needs --out FILE.safetensors");
  if (f.split && !isImageSpec(f.data)) {
    throw new UsageError(`--split applies to image datasets; ${f.data} has none`);
  }
  if (f.split && !isSplit(f.split)) {
    throw new UsageError(`--split must be train or test, got ${JSON.stringify(f.split)}`);
  }
  const log = (line: string) => f.quiet || console.error(line);
  const backend = await openBackend(f, log);
  const dtype: DType = backend.supports("f64") ? "f64" : "f32";
  const model = await loadModel(f, backend, dtype);
  const objective = f.objective ?? (model.logp ? "exact" : "bound");
  if (objective === "exact" && !model.logp) {
    throw new UsageError(
      `--objective exact needs an analytic model with a known log p; ${model.description} has none (use --objective bound)`,
    );
  }
  const rng = Rng.fromSeed(f.seed);
  const data = await resolveData(f.data, model, {
    limit: f.limit,
    split: f.split && isSplit(f.split) ? f.split : isImageSpec(f.data) ? "train" : undefined,
    rng: rng.derive("data"),
    backend,
    dtype,
  });
  if (!data.integerValued || !data.quantization) {
    throw new UsageError(
      `${f.data} is continuous: a dequantiser is for discrete data (images, an integer .npy, points:FILE,discrete)`,
    );
  }
  const flow = flowFor(data.shape, f);
  const tMin = f.tMin ?? likelihoodTMin(model.sde, "variational");
  const d = initDequantizer(backend, rng.derive("init"), {
    flow,
    quantization: data.quantization,
  }, dtype);
  const started = performance.now();
  log(
    `train-dequantizer: ${flow.kind} flow, ${flow.couplings} couplings of width ${flow.hidden}, ` +
      `${
        objective === "exact" ? "exact log p" : "ScoreFlow bound"
      } of ${model.description}, ${data.n} examples`,
  );
  const history = await trainDequantizer(model, data, d, {
    objective,
    tMin,
    steps: f.steps,
    batch: f.batch,
    lr: f.lr,
    clip: f.clip,
    rng: rng.derive("train-dequantizer"),
    logEvery: f.logEvery,
    log,
  });
  const D = data.shape.reduce((p, v) => p * v, 1);
  const last = history.at(-1)?.loss ?? NaN;
  const training = {
    model: model.description,
    data: data.description,
    objective,
    t_min: tMin,
    steps: f.steps,
    batch: f.batch,
    lr: f.lr,
    seed: f.seed,
    final_neg_elbo_bpd: last / (D * Math.LN2),
  };
  d.config.training = training;
  await saveDequantizer(f.out, d);
  const summary = { out: f.out, ...training, seconds: (performance.now() - started) / 1000 };
  if (f.json) console.log(JSON.stringify(summary, null, 2));
  else {log(
      `train-dequantizer: written to ${f.out} (last logged −ELBO ${
        summary.final_neg_elbo_bpd.toFixed(4)
      } bits/dim)`,
    );}
}

/** Vectors get halves masks and an MLP; [C, H, W] images checkerboards and 3×3 convolutions. */
function flowFor(shape: number[], f: TrainDequantizerFlags): CouplingFlowConfig {
  if (shape.length === 1) {
    return { kind: "vector", dim: shape[0], couplings: f.couplings, hidden: f.hidden ?? 32 };
  }
  if (shape.length === 3) {
    const [c, h, w] = shape;
    return { kind: "image", shape: [c, h, w], couplings: f.couplings, hidden: f.hidden ?? 16 };
  }
  throw new UsageError(
    `train-dequantizer handles vectors [D] and images [C, H, W]; the data have shape [${shape}]`,
  );
}
