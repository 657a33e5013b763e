/**
 * `import score-sde`: score_sde_pytorch's `checkpoint_N.pth` (`{model, ema, optimizer, step}`)
 * with one of its configurations → this toolkit's checkpoint (an `ncsnpp` network, the VP or
 * sub-VP process, ε-prediction, and score_sde's training settings for `train --init`).
 */

import { InputError, UsageError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { checkpointMeta, encodeCheckpoint } from "../io/checkpoint.ts";
import { expandHome } from "../io/home_path.ts";
import { readTorchFile } from "../io/torch_file.ts";
import { referenceBackend, tensor } from "../compute/mod.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import { describeNetwork, type NetworkConfig } from "../nn/network.ts";
import type { NcsnppParams } from "../nn/ncsnpp.ts";
import {
  ncsnppConfigOf,
  parseScoreSdeConfig,
  SCORE_SDE_CONFIGS,
  type ScoreSdeConfig,
  scoreSdeWeights,
} from "../nn/import/score_sde.ts";
import { ADAM_DEFAULT } from "../train/optim/adam.ts";
import type { TrainConfig } from "../train/config.ts";
import type { ImportFlags } from "./import.ts";

/** score_sde_pytorch's `checkpoint_N.pth` with its configuration → a checkpoint here. */
export async function importScoreSde(
  source: string,
  f: ImportFlags & { out: string },
): Promise<void> {
  if (!f.config) {
    throw new UsageError(
      `import score-sde needs --config: one of ${
        Object.keys(SCORE_SDE_CONFIGS).join(", ")
      }, or a JSON file`,
    );
  }
  const settings = await scoreSdeSettings(f.config);
  const network = ncsnppConfigOf(settings);
  const path = expandHome(source);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputError(`${path}: no such file`);
    throw e;
  }
  const weights = scoreSdeWeights(readTorchFile(bytes, path), path, network, f.weights);
  const model: NetworkConfig = { kind: "ncsnpp", ...network };
  const config = importedConfig(settings, model, {
    file: path,
    config: f.config,
    weights: f.weights,
  });
  const be = referenceBackend();
  const params: NcsnppParams = {};
  for (const [name, w] of weights.params) params[name] = tensor(be, w.data, w.shape, "f32");
  const out = expandHome(f.out);
  await writeFileAtomic(
    out,
    await encodeCheckpoint({ params, metadata: await checkpointMeta(config, weights.step) }),
  );
  for (const t of Object.values(params)) t.dispose();
  if (!f.quiet) {
    const count = [...weights.params.values()].reduce((n, w) => n + w.data.length, 0);
    console.error(
      `imported ${path} (step ${weights.step}, ${f.weights === "ema" ? "EMA" : "raw"} weights): ${
        describeNetwork(model)
      }, ${count.toLocaleString("en-US")} parameters, ${config.sde.kind} process → ${out}`,
    );
  }
}

async function scoreSdeSettings(spec: string): Promise<ScoreSdeConfig> {
  if (spec in SCORE_SDE_CONFIGS) return SCORE_SDE_CONFIGS[spec];
  if (!spec.endsWith(".json")) {
    throw new UsageError(
      `--config ${JSON.stringify(spec)}: expected one of ${
        Object.keys(SCORE_SDE_CONFIGS).join(", ")
      } or a .json file`,
    );
  }
  const path = expandHome(spec);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputError(`--config ${path}: no such file`);
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: not JSON (${(e as Error).message})`);
  }
  return parseScoreSdeConfig(json, path);
}

/**
 * The configuration stored with the weights: the network, score_sde's process (VP or sub-VP;
 * `ncsnppConfigOf` refuses VE) and parameterisation (ε), and its training settings
 * (so `train --init` continues as score_sde trained: simple DSM weighting, uniform times).
 */
function importedConfig(
  s: ScoreSdeConfig,
  model: NetworkConfig,
  source: { file: string; config: string; weights: "ema" | "raw" },
): TrainConfig {
  const m = s.model;
  const sde = makeSde(s.training.sde === "vpsde" ? "vp" : "subvp", {
    beta0: m.beta_min,
    beta1: m.beta_max,
  });
  return {
    data: `cifar10:data/cifar10`,
    nTrain: 0,
    model,
    objective: "dsm",
    weighting: "simple",
    timeSampling: "uniform",
    param: "eps",
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    highOrder: 0,
    batch: 128,
    adam: { ...ADAM_DEFAULT, lr: 2e-4 },
    warmup: 5000,
    clip: 1,
    ema: 0.9999,
    seed: 0,
    initFrom: null,
    dequant: "uniform",
    flip: true,
    lm: null,
    imported: { format: "score-sde", ...source },
  };
}
