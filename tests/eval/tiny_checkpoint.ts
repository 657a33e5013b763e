/**
 * A briefly trained score MLP for evaluation tests: the tiny run's recipe with 128-wide hidden
 * layers, so that its products cross the WebGPU texture path's size threshold between a batch of
 * one and a batch of a dozen (the case a batch-dependent kernel choice gets wrong).
 */

import { type Backend, type DType, Rng } from "../../compute/mod.ts";
import { checkpointMeta, saveCheckpoint } from "../../io/checkpoint.ts";
import { VpSde } from "../../sde/vp.ts";
import type { TrainConfig } from "../../train/config.ts";
import { resolveTrainData } from "../../train/data.ts";
import { TINY_CONFIG } from "../../train/tiny_run.ts";
import { Trainer } from "../../train/trainer.ts";
import { ROOT } from "../_helpers/cli.ts";

export const WIDE_TINY_CONFIG: TrainConfig = {
  ...TINY_CONFIG,
  data: `gmm:${ROOT}fixtures/mix2c.json`,
  model: { kind: "mlp", dim: 2, hidden: 128, layers: 2, timeFeatures: 8 },
};

/** A trainer after `steps` optimiser steps on `backend`. */
export async function trainWideTiny(backend: Backend, dtype: DType, steps: number) {
  const c = WIDE_TINY_CONFIG;
  const data = await resolveTrainData(
    c.data,
    c.nTrain,
    Rng.fromSeed(c.seed).derive("data"),
    new VpSde(),
  );
  const trainer = new Trainer(backend, dtype, c, data.train);
  for (let i = 0; i < steps; i++) trainer.trainStep().dispose();
  return trainer;
}

/** Trains on `backend` and writes dir/ckpt.safetensors; returns its path. */
export async function wideTinyCheckpoint(
  backend: Backend,
  dir: string,
  steps: number,
): Promise<string> {
  const trainer = await trainWideTiny(backend, "f32", steps);
  return await saveCheckpoint(dir, {
    params: trainer.params,
    ema: trainer.ema,
    metadata: await checkpointMeta(WIDE_TINY_CONFIG, trainer.step),
  });
}
