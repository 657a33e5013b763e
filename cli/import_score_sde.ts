/**
 * `import score-sde`: score_sde_pytorch's `checkpoint_N.pth` (`{model, ema, optimizer, step}`)
 * with one of its configurations → this toolkit's checkpoint (an `ncsnpp` network; the VP or
 * sub-VP process with ε-prediction, or the VE process with score prediction; and score_sde's
 * training settings for `train --init`).
 */

import { UsageError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { readTorchFile } from "../io/torch_file.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import { describeNetwork, type NetworkConfig } from "../nn/network.ts";
import {
  ncsnppConfigOf,
  parseScoreSdeConfig,
  SCORE_SDE_CONFIGS,
  type ScoreSdeConfig,
  scoreSdeProcess,
  scoreSdeWeights,
} from "../nn/import/score_sde.ts";
import type { TrainConfig } from "../train/config.ts";
import type { ImportFlags } from "./import.ts";
import {
  importedTrainConfig,
  namedOrJsonConfig,
  readSourceFile,
  writeImported,
} from "./import_common.ts";

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
  const settings = await namedOrJsonConfig(f.config, SCORE_SDE_CONFIGS, parseScoreSdeConfig);
  const network = ncsnppConfigOf(settings);
  const path = expandHome(source);
  const weights = scoreSdeWeights(
    readTorchFile(await readSourceFile(path), path),
    path,
    network,
    f.weights,
  );
  const model: NetworkConfig = { kind: "ncsnpp", ...network };
  const config = importedConfig(settings, model, {
    file: path,
    config: f.config,
    weights: f.weights,
  });
  await writeImported(f.out, weights.params, config, weights.step, {
    quiet: f.quiet,
    line: (count) =>
      `imported ${path} (step ${weights.step}, ${f.weights === "ema" ? "EMA" : "raw"} weights): ${
        describeNetwork(model)
      }, ${count} parameters, ${config.sde.kind} process`,
  });
}

/**
 * The configuration stored with the weights: the network, score_sde's process in this toolkit's
 * data space (`scoreSdeProcess`: VP, sub-VP, or VE with σ doubled for [0, 1] data) and
 * parameterisation (ε for VP and sub-VP, the score for VE), and its training settings (so
 * `train --init` continues as score_sde trained: simple DSM weighting, uniform times, its EMA).
 */
function importedConfig(
  s: ScoreSdeConfig,
  model: NetworkConfig,
  source: { file: string; config: string; weights: "ema" | "raw" },
): TrainConfig {
  const process = scoreSdeProcess(s);
  const sde = makeSde(process.kind, process.params);
  return importedTrainConfig({
    model,
    objective: "dsm",
    weighting: "simple",
    timeSampling: "uniform",
    param: process.kind === "ve" ? "score" : "eps",
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    ema: s.model.ema_rate,
    imported: { format: "score-sde", ...source },
  });
}
