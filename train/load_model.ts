/** A trained checkpoint as a model: its config rebuilds the network, its EMA (or raw) weights fill it. */

import type { Backend, DType } from "../compute/mod.ts";
import { loadCheckpoint, restoreTree } from "../io/checkpoint.ts";
import { InputError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { initNetwork, type NetworkParams } from "../nn/network.ts";
import { initCovarianceHead } from "../nn/covariance_head.ts";
import type { LmParams } from "./trainer.ts";
import { NetworkScoreModel } from "../nn/score_network.ts";
import { sdeFromJson } from "../sde/processes.ts";
import { Rng } from "../compute/mod.ts";
import type { TrainConfig } from "./config.ts";

export async function loadTrainedModel(
  file: string,
  backend: Backend,
  dtype: DType,
  weights: "ema" | "raw" = "ema",
): Promise<{ model: NetworkScoreModel; config: TrainConfig; step: number }> {
  const path = expandHome(file); // `--ckpt=~/…` reaches us unexpanded by the shell
  const ck = await loadCheckpoint(path, backend, dtype);
  const config = ck.config as unknown as TrainConfig;
  const kind = config?.model?.kind;
  if (!config || typeof config !== "object" || (kind !== "mlp" && kind !== "unet")) {
    throw new InputError(
      `${path}: the stored config does not describe a score network (expected model.kind mlp or unet, found ${
        JSON.stringify(kind)
      })`,
    );
  }
  const sde = sdeFromJson(config.sde);
  // the template only fixes names and shapes; its random values are replaced
  const score = initNetwork(backend, Rng.fromSeed(0), config.model, dtype);
  const template = config.lm
    ? { score, head: initCovarianceHead(backend, Rng.fromSeed(0), config.lm.head, dtype) }
    : score;
  const useEma = weights === "ema" && ck.ema !== undefined;
  const params = restoreTree(
    template,
    useEma ? ck.ema! : ck.params,
    useEma ? "ema" : "params",
    path,
  );
  for (const t of Object.values(useEma ? ck.params : ck.ema ?? {})) t.dispose();
  const name = `ckpt:${path} (step ${ck.meta.step}${useEma ? ", EMA weights" : ""})`;
  const head = config.lm
    ? { config: config.lm.head, rank: config.lm.rank, params: (params as LmParams).head }
    : undefined;
  const scoreParams = config.lm ? (params as LmParams).score : params as NetworkParams;
  return {
    model: new NetworkScoreModel(sde, config.model, config.param, scoreParams, name, head),
    config,
    step: ck.meta.step,
  };
}
