/** A trained checkpoint as a model: its config rebuilds the network, its EMA (or raw) weights fill it. */

import type { Backend, DType } from "../compute/mod.ts";
import { loadCheckpoint, restoreTree } from "../io/checkpoint.ts";
import { InputError } from "../io/errors.ts";
import { initMlp } from "../nn/mlp.ts";
import { MlpScoreModel } from "../nn/score_network.ts";
import { sdeFromJson } from "../sde/processes.ts";
import { Rng } from "../compute/mod.ts";
import type { TrainConfig } from "./config.ts";

export async function loadTrainedModel(
  path: string,
  backend: Backend,
  dtype: DType,
  weights: "ema" | "raw" = "ema",
): Promise<{ model: MlpScoreModel; config: TrainConfig; step: number }> {
  const ck = await loadCheckpoint(path, backend, dtype);
  const config = ck.config as unknown as TrainConfig;
  if (!config || typeof config !== "object" || config.model?.kind !== "mlp") {
    throw new InputError(`${path}: the stored config does not describe an MLP score model`);
  }
  const sde = sdeFromJson(config.sde);
  // the template only fixes names and shapes; its random values are replaced
  const template = initMlp(backend, Rng.fromSeed(0), config.model, dtype);
  const useEma = weights === "ema" && ck.ema !== undefined;
  const params = restoreTree(
    template,
    useEma ? ck.ema! : ck.params,
    useEma ? "ema" : "params",
    path,
  );
  for (const t of Object.values(useEma ? ck.params : ck.ema ?? {})) t.dispose();
  const name = `ckpt:${path} (step ${ck.meta.step}${useEma ? ", EMA weights" : ""})`;
  return {
    model: new MlpScoreModel(sde, config.model, config.param, params, name),
    config,
    step: ck.meta.step,
  };
}
