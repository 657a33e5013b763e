/** The data spec of eval-nll (`gmm:FILE`, `points:FILE`, an image set) resolved to examples. */

import type { Backend, DType, Rng } from "../compute/mod.ts";
import { InputError, UsageError } from "../io/errors.ts";
import { loadGmmSpec } from "../data/gmm_spec.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { loadPoints } from "../data/points.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { EIGHT_BIT_SYMMETRIC, type Quantization } from "../data/quantization.ts";
import { isImageSpec, loadImageSpec, type Split } from "../data/image_set.ts";

export interface EvalData {
  /** row-major examples in model space (continuous) or level units (integer data) */
  values: Float64Array;
  n: number;
  shape: number[];
  quantization: Quantization | null;
  /** declared discrete (images, an integer .npy, `points:FILE,discrete`): integer levels */
  integerValued: boolean;
  description: string;
  /** the examples' class labels, where the data carry them (image sets with labels) */
  labels?: Int32Array;
}

/** Default number of examples drawn from a `gmm:` data spec. */
export const GMM_DATA_DEFAULT_N = 1000;

/** `KIND:PATH` of a --data spec → its path. */
function specPath(spec: string): string {
  const at = spec.indexOf(":");
  const kind = at < 0 ? spec : spec.slice(0, at);
  if (!["gmm", "points"].includes(kind) || at < 0 || at === spec.length - 1) {
    throw new UsageError(
      `--data ${JSON.stringify(spec)}: expected gmm:FILE or points:FILE, or an image dataset: ` +
        "mnist, fashion-mnist[:DIR], cifar10:DIR, imagenet32:DIR, images:DIR",
    );
  }
  return spec.slice(at + 1);
}

export async function resolveData(
  spec: string,
  model: DiffusionModel,
  o: { limit?: number; split?: Split; rng: Rng; backend: Backend; dtype: DType },
): Promise<EvalData> {
  const modelDim = model.shape.reduce((p, d) => p * d, 1);
  let data: EvalData;
  if (isImageSpec(spec)) {
    data = await imageData(spec, o.split ?? "test", o.limit);
  } else if (spec.startsWith("gmm:")) {
    const path = specPath(spec);
    const source = new GmmModel(await loadGmmSpec(path), model.sde);
    const n = o.limit ?? GMM_DATA_DEFAULT_N;
    const x = source.sample(o.rng, o.backend, n, o.dtype);
    data = {
      values: Float64Array.from(await x.read()),
      n,
      shape: [...source.shape],
      quantization: null,
      integerValued: false,
      description: `${n} samples of gmm:${path} (seed stream "data")`,
    };
    x.dispose();
  } else {
    const path = specPath(spec);
    const p = await loadPoints(path);
    const n = Math.min(p.n, o.limit ?? p.n);
    data = {
      values: p.data.subarray(0, n * p.shape.reduce((a, d) => a * d, 1)),
      n,
      shape: p.shape,
      quantization: p.discrete ? { bits: 0, a: 1, b: 0 } : null,
      integerValued: p.discrete,
      description: `points:${path} (${n} of ${p.n} examples)`,
    };
  }
  const dataDim = data.shape.reduce((a, d) => a * d, 1);
  if (dataDim !== modelDim) {
    throw new InputError(
      `dimension mismatch: the model (${model.description}) has D = ${modelDim}, the data ${spec} has D = ${dataDim}`,
    );
  }
  return data;
}

/** An image split in level units, with the [−1, 1] scaling of training (y = a·k + b). */
async function imageData(spec: string, split: Split, limit?: number): Promise<EvalData> {
  const set = await loadImageSpec(spec, split, { limit });
  const n = Math.min(set.n, limit ?? set.n);
  const d = set.shape[0] * set.shape[1] * set.shape[2];
  return {
    values: Float64Array.from(set.pixels.subarray(0, n * d)),
    n,
    shape: [...set.shape],
    quantization: { ...EIGHT_BIT_SYMMETRIC, bits: set.bits, a: 2 / 2 ** set.bits },
    integerValued: true,
    description: `${set.description}, ${split} split (${n} images)`,
    ...(set.labels ? { labels: Int32Array.from(set.labels.subarray(0, n)) } : {}),
  };
}
