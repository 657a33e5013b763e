/**
 * What every `import` format shares: reading the source file, a configuration given by name or
 * as a JSON file, the training settings stored with imported weights, and writing the
 * checkpoint atomically with a one-line summary.
 */

import { InputError, UsageError } from "../io/errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { checkpointMeta, encodeCheckpoint } from "../io/checkpoint.ts";
import { expandHome } from "../io/home_path.ts";
import { referenceBackend, type Tensor, tensor } from "../compute/mod.ts";
import { ADAM_DEFAULT } from "../compute/optim/adam.ts";
import type { TrainConfig } from "../train/config.ts";

/** Weights by parameter name, as each format's reader returns them. */
export type ImportedParams = Map<string, { shape: number[]; data: Float32Array }>;

/** The bytes of the checkpoint at `path`; a missing file is an InputError naming it. */
export async function readSourceFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputError(`${path}: no such file`);
    throw e;
  }
}

/** `--config`: a name of `table`, or a `.json` file of the same fields read by `parse`. */
export async function namedOrJsonConfig<T>(
  spec: string,
  table: Record<string, T>,
  parse: (json: unknown, path: string) => T,
): Promise<T> {
  if (spec in table) return table[spec];
  if (!spec.endsWith(".json")) {
    throw new UsageError(
      `--config ${JSON.stringify(spec)}: expected one of ${
        Object.keys(table).join(", ")
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
  return parse(json, path);
}

/**
 * The configuration stored with imported weights: what the format decides (network, process,
 * parameterisation, objective and the original's optimiser settings), the rest at this
 * toolkit's CIFAR-10 defaults, so that `train --init` continues training as the original did.
 */
export function importedTrainConfig(
  c:
    & Pick<TrainConfig, "model" | "objective" | "weighting" | "timeSampling" | "param" | "sde">
    & Pick<TrainConfig, "tMin" | "ema" | "imported">
    & Partial<TrainConfig>,
): TrainConfig {
  return {
    data: "cifar10:data/cifar10",
    nTrain: 0,
    highOrder: 0,
    batch: 128,
    adam: { ...ADAM_DEFAULT, lr: 2e-4 },
    warmup: 5000,
    clip: 1,
    seed: 0,
    initFrom: null,
    dequant: "uniform",
    flip: true,
    lm: null,
    ...c,
  };
}

/**
 * Writes `params` with `config` as a checkpoint at `out` (atomically) and, unless quiet, prints
 * `imported FILE (what): DESCRIPTION, N parameters, … → OUT` on stderr.
 */
export async function writeImported(
  out: string,
  params: ImportedParams,
  config: TrainConfig,
  step: number,
  summary: { quiet?: boolean; line: (parameters: string) => string },
): Promise<void> {
  const be = referenceBackend();
  const tensors: Record<string, Tensor> = {};
  for (const [name, w] of params) tensors[name] = tensor(be, w.data, w.shape, "f32");
  const path = expandHome(out);
  await writeFileAtomic(
    path,
    await encodeCheckpoint({ params: tensors, metadata: await checkpointMeta(config, step) }),
  );
  for (const t of Object.values(tensors)) t.dispose();
  if (!summary.quiet) {
    const count = [...params.values()].reduce((n, w) => n + w.data.length, 0);
    console.error(`${summary.line(count.toLocaleString("en-US"))} → ${path}`);
  }
}
