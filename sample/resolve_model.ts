/**
 * `--ckpt FILE` or `--model gmm:FILE` → the model interface, for every sampling command: a
 * trained network (its process from the checkpoint) or the exact analytic mixture (its process
 * from `--sde`, default VP).
 */

import type { Backend, DType } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import { resolveModel } from "../eval/resolve.ts";
import { loadTrainedModel } from "../train/load_model.ts";
import { makeSde } from "../sde/processes.ts";
import type { DiffusionModel } from "../sde/model.ts";
import type { SdeKind } from "../sde/sde.ts";

export interface ModelFlags {
  model?: string;
  ckpt?: string;
  sde?: string;
}

export async function resolveSamplingModel(
  f: ModelFlags,
  backend: Backend,
  dtype: DType,
): Promise<DiffusionModel> {
  if (f.model && f.ckpt) throw new UsageError("--model and --ckpt conflict: give one of them");
  if (!f.model && !f.ckpt) {
    throw new UsageError("give --ckpt FILE (a trained network) or --model gmm:FILE.json");
  }
  if (f.ckpt) {
    if (f.sde) {
      throw new UsageError(
        "--sde conflicts with --ckpt: a trained model's process comes from its checkpoint",
      );
    }
    return (await loadTrainedModel(f.ckpt, backend, dtype)).model;
  }
  return await resolveModel(f.model!, makeSde((f.sde ?? "vp") as SdeKind));
}
