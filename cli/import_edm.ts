/**
 * `import edm`: an EDM network snapshot (NVlabs/edm's `network-snapshot-*.pkl`, or a released
 * `edm-*.pkl` of the same layout) → this toolkit's checkpoint: an `edm` network (the EMA copy,
 * the only one a snapshot holds), the VE process σ(t) = σ_min (σ_max/σ_min)^t over the precond's
 * σ range, and x0-prediction, since the network's output is EDM's denoiser D(x; σ(t))
 * (docs/import_edm.md).
 */

import { UsageError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { readTorchFile } from "../io/torch_file.ts";
import { ADAM_DEFAULT } from "../compute/optim/adam.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import { describeNetwork, type NetworkConfig } from "../nn/network.ts";
import { edmSnapshot } from "../nn/import/edm.ts";
import type { TrainConfig } from "../train/config.ts";
import type { ImportFlags } from "./import.ts";
import { importedTrainConfig, readSourceFile, writeImported } from "./import_common.ts";

/** EDM's network snapshot → a checkpoint here. */
export async function importEdm(source: string, f: ImportFlags & { out: string }): Promise<void> {
  if (f.weights === "raw") {
    throw new UsageError(
      "import edm: --weights raw is not available: an EDM snapshot holds only the EMA network",
    );
  }
  if (f.config) {
    throw new UsageError(
      "import edm: --config is not used: the snapshot carries its networks' constructor kwargs",
    );
  }
  const path = expandHome(source);
  const snapshot = edmSnapshot(readTorchFile(await readSourceFile(path), path), path);
  const model: NetworkConfig = { kind: "edm", ...snapshot.config };
  const config = importedConfig(model, snapshot.config, path, snapshot.precondClass);
  await writeImported(f.out, snapshot.params, config, 0, {
    quiet: f.quiet,
    line: (count) =>
      `imported ${path} (EMA weights): ${
        describeNetwork(model)
      }, ${count} parameters, as x0-prediction under the ve process`,
  });
}

/**
 * The stored configuration: the network, the VE process over its σ range, x0-prediction, and
 * training settings for `train --init` (this toolkit's DSM; EDM's own loss is not reproduced).
 */
function importedConfig(
  model: NetworkConfig,
  c: { sigmaMin: number; sigmaMax: number },
  file: string,
  precondClass: string,
): TrainConfig {
  const sde = makeSde("ve", { sigmaMin: c.sigmaMin, sigmaMax: c.sigmaMax });
  return importedTrainConfig({
    model,
    objective: "dsm",
    weighting: "simple",
    timeSampling: "uniform",
    param: "x0",
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    adam: { ...ADAM_DEFAULT, lr: 1e-4 },
    ema: 0.9999,
    imported: { format: "edm", file, config: precondClass, weights: "ema" },
  });
}
