/** Model and data specs of the command line (`gmm:FILE`, `points:FILE`) resolved to objects. */

import type { Backend, DType, Rng } from "../compute/mod.ts";
import { InputError, UsageError } from "../io/errors.ts";
import { loadGmmSpec } from "../data/gmm_spec.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { loadPoints } from "../data/points.ts";
import type { DiffusionModel } from "../sde/model.ts";
import type { Sde } from "../sde/sde.ts";
import type { Quantization } from "./dequantization.ts";

export interface EvalData {
  /** row-major examples in model space (continuous) or level units (integer data) */
  values: Float64Array;
  n: number;
  shape: number[];
  quantization: Quantization | null;
  integerValued: boolean;
  description: string;
}

/** Default number of examples drawn from a `gmm:` data spec. */
export const GMM_DATA_DEFAULT_N = 1000;

function splitSpec(flag: string, spec: string, kinds: string[]): [string, string] {
  const at = spec.indexOf(":");
  const kind = at < 0 ? spec : spec.slice(0, at);
  if (!kinds.includes(kind) || at < 0 || at === spec.length - 1) {
    throw new UsageError(
      `${flag} ${JSON.stringify(spec)}: expected ${kinds.map((k) => `${k}:FILE`).join(" or ")}` +
        (["mnist", "fashion-mnist", "cifar10", "imagenet32", "images"].includes(kind)
          ? ` (image datasets arrive with image support)`
          : ""),
    );
  }
  return [kind, spec.slice(at + 1)];
}

export async function resolveModel(spec: string, sde: Sde): Promise<GmmModel> {
  const [, path] = splitSpec("--model", spec, ["gmm"]);
  return new GmmModel(await loadGmmSpec(path), sde);
}

export async function resolveData(
  spec: string,
  model: DiffusionModel,
  o: { limit?: number; rng: Rng; backend: Backend; dtype: DType },
): Promise<EvalData> {
  const [kind, path] = splitSpec("--data", spec, ["gmm", "points"]);
  const modelDim = model.shape.reduce((p, d) => p * d, 1);
  let data: EvalData;
  if (kind === "gmm") {
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
    const p = await loadPoints(path);
    const n = Math.min(p.n, o.limit ?? p.n);
    data = {
      values: p.data.subarray(0, n * p.shape.reduce((a, d) => a * d, 1)),
      n,
      shape: p.shape,
      quantization: p.integerValued ? { bits: 0, a: 1, b: 0 } : null,
      integerValued: p.integerValued,
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
