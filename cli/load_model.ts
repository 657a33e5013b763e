/**
 * The one way from --model/--ckpt/--sde/--weights to a model: the exact analytic mixture of
 * `gmm:FILE` under `--sde` (default VP), or a trained checkpoint, whose config rebuilds the
 * network and whose EMA (or raw) weights fill it, its process coming from the checkpoint. The
 * class options of the commands that have them (`--class`, `--cfg`; cli/class_options.ts)
 * condition it.
 */

import { type Backend, type DType, Rng } from "../compute/mod.ts";
import { loadCheckpoint, restoreTree } from "../io/checkpoint.ts";
import { InputError, UsageError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { loadGmmSpec } from "../data/gmm_spec.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { initNetwork, NETWORK_KINDS, type NetworkParams } from "../nn/network.ts";
import { initCovarianceHead } from "../nn/covariance_head.ts";
import { NetworkScoreModel } from "../nn/score_network.ts";
import { makeSde, sdeFromJson } from "../sde/processes.ts";
import type { DiffusionModel } from "../sde/model.ts";
import type { Sde } from "../sde/sde.ts";
import type { LmParams } from "../train/trainer.ts";
import type { TrainConfig } from "../train/config.ts";
import type { ModelOptions } from "./options.ts";
import { checkClassOptions, type ClassOptions, conditionModel } from "./class_options.ts";

/**
 * Flag-only checks, before any device starts: exactly one of --model and --ckpt (`missing` says
 * how to give one), and no --sde beside a checkpoint.
 */
export function checkModelOptions(o: ModelOptions & ClassOptions, missing: string): void {
  checkClassOptions(o);
  if (o.model && o.ckpt) throw new UsageError("--model and --ckpt conflict: give one of them");
  if (!o.model && !o.ckpt) throw new UsageError(missing);
  if (o.ckpt && o.sde) {
    throw new UsageError(
      "--sde conflicts with --ckpt: a trained model's process comes from its checkpoint",
    );
  }
}

/** The model the options name (checked by `checkModelOptions`). */
export async function loadModel(
  o: ModelOptions & ClassOptions,
  backend: Backend,
  dtype: DType,
): Promise<DiffusionModel> {
  const model = o.ckpt
    ? await trainedModel(o.ckpt, backend, dtype, o.weights ?? "ema")
    : await analyticModel(o.model!, makeSde(o.sde ?? "vp"));
  return conditionModel(model, o);
}

/** `gmm:FILE.json` under the process `sde`. */
async function analyticModel(spec: string, sde: Sde): Promise<GmmModel> {
  const at = spec.indexOf(":");
  if (at < 0 || spec.slice(0, at) !== "gmm" || at === spec.length - 1) {
    throw new UsageError(`--model ${JSON.stringify(spec)}: expected gmm:FILE`);
  }
  return new GmmModel(await loadGmmSpec(spec.slice(at + 1)), sde);
}

/** A checkpoint as a model: its config rebuilds the network, its EMA (or raw) weights fill it. */
async function trainedModel(
  file: string,
  backend: Backend,
  dtype: DType,
  weights: "ema" | "raw",
): Promise<NetworkScoreModel> {
  const path = expandHome(file); // `--ckpt=~/…` reaches us unexpanded by the shell
  const ck = await loadCheckpoint(path, backend, dtype);
  const config = ck.config as unknown as TrainConfig;
  const kind = config?.model?.kind;
  if (
    !config || typeof config !== "object" ||
    !(NETWORK_KINDS as readonly unknown[]).includes(kind)
  ) {
    throw new InputError(
      `${path}: the stored config does not describe a score network (expected model.kind one of ${
        NETWORK_KINDS.join(", ")
      }, found ${JSON.stringify(kind)})`,
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
  return new NetworkScoreModel(sde, config.model, config.param, scoreParams, name, head);
}
