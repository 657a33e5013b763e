/**
 * `import i-dode`: an i-DODE checkpoint (clu's `checkpoints-0/ckpt-N.flax`, or the folder holding
 * it; gzipped files are read too) with its configuration → this toolkit's checkpoint: a
 * `vdm-unet` network, the VDM-γ (`vdm`) or straight-path (`sp`) process on i-DODE's γ range, and
 * the velocity (VP) or ε parameterisation (docs/idode.md).
 */

import { gunzipSync } from "fflate";
import { InputError, UsageError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { ADAM_DEFAULT } from "../compute/optim/adam.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import { describeNetwork, type NetworkConfig } from "../nn/network.ts";
import {
  IDODE_CONFIGS,
  type IdodeMapping,
  idodeMapping,
  idodeWeights,
  parseIdodeConfig,
  readIdodeState,
} from "../nn/import/idode.ts";
import type { TrainConfig } from "../train/config.ts";
import type { ImportFlags } from "./import.ts";
import {
  importedTrainConfig,
  namedOrJsonConfig,
  readSourceFile,
  writeImported,
} from "./import_common.ts";

/** i-DODE's checkpoint with its configuration → a checkpoint here. */
export async function importIdode(source: string, f: ImportFlags & { out: string }): Promise<void> {
  if (!f.config) {
    throw new UsageError(
      `import i-dode needs --config: one of ${
        Object.keys(IDODE_CONFIGS).join(", ")
      }, or a JSON file of config.model fields`,
    );
  }
  const settings = await namedOrJsonConfig(f.config, IDODE_CONFIGS, parseIdodeConfig);
  const path = await checkpointFile(expandHome(source));
  let bytes = await readSourceFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new InputError(`${path}: a broken gzip stream (${(e as Error).message})`);
    }
  }
  const state = readIdodeState(bytes, path);
  const weights = f.weights === "ema" ? state.ema : state.params;
  const mapping = idodeMapping(settings, weights, path);
  const named = idodeWeights(weights, mapping.network, path);
  const model: NetworkConfig = { kind: "vdm-unet", ...mapping.network };
  const config = importedConfig(model, mapping, {
    file: path,
    config: f.config,
    weights: f.weights,
  });
  await writeImported(f.out, named, config, state.step, {
    quiet: f.quiet,
    line: (count) =>
      `imported ${path} (step ${state.step}, ${f.weights === "ema" ? "EMA" : "raw"} weights): ${
        describeNetwork(model)
      }, ${count} parameters, ${config.sde.kind} process, ${config.param}`,
  });
}

/** A `ckpt-N.flax` file as given, or the newest one in a folder (or its `checkpoints-0`). */
async function checkpointFile(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputError(`${path}: no such file`);
    throw e;
  }
  if (!info.isDirectory) return path;
  const newest = async (dir: string): Promise<string | null> => {
    let best: [number, string] | null = null;
    for await (const entry of Deno.readDir(dir)) {
      const m = /^ckpt-(\d+)\.flax(\.gz)?$/.exec(entry.name);
      if (entry.isFile && m && (!best || Number(m[1]) > best[0])) best = [Number(m[1]), entry.name];
    }
    return best ? `${dir}/${best[1]}` : null;
  };
  const found = await newest(path) ??
    await newest(`${path}/checkpoints-0`).catch(() => null);
  if (!found) throw new InputError(`${path}: a folder without ckpt-N.flax files`);
  return found;
}

/**
 * The configuration stored with the weights: the network, i-DODE's process and
 * parameterisation, and its training settings (velocity: the flow objective with α²-importance
 * times; ε: likelihood-weighted DSM), so `train --init` would continue as i-DODE trained.
 */
function importedConfig(
  model: NetworkConfig,
  m: IdodeMapping,
  source: { file: string; config: string; weights: "ema" | "raw" },
): TrainConfig {
  const sde = makeSde(m.sde.kind, m.sde.params);
  const flow = m.param === "velocity" || m.network.output === "sp-eps";
  return importedTrainConfig({
    model,
    objective: flow ? "flow" : "dsm",
    weighting: flow ? "simple" : "likelihood",
    timeSampling: flow ? "uniform" : "importance",
    param: m.param,
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    adam: { ...ADAM_DEFAULT, lr: 2e-4, beta2: 0.99, weightDecay: 0.01 },
    warmup: 100,
    clip: 0,
    ema: 0.9999,
    flip: false,
    imported: { format: "i-dode", ...source },
  });
}
