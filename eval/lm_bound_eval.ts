/**
 * The Likelihood-Matching chain bound over a dataset, in batches: continuous data as they are,
 * integer data uniformly dequantised (y = a(k + u) + b), whose bound on −log P(k) subtracts
 * D ln a like the PF-ODE's (docs/MATH.md §2). Every draw is keyed by the example's global
 * index, so a bound does not depend on the batch or shard it is computed in.
 */

import {
  type Backend,
  type DType,
  noGrad,
  type Rng,
  sizeOf,
  type Tensor,
  tensor,
  tidy,
} from "../compute/mod.ts";
import { add, mul } from "../compute/mod.ts";
import type { Progress } from "../io/progress.ts";
import { type LmBoundModel, lmChainBound } from "./lm_bound.ts";
import type { Quantization } from "../data/quantization.ts";

export interface LmBoundOptions {
  backend: Backend;
  dtype: DType;
  tMin: number;
  steps: number;
  batch: number;
  rng: Rng;
  logPrior?: (x: Tensor) => Tensor;
}

/** Per-example bounds in nats, in data order. */
export async function evaluateLmBound(
  model: LmBoundModel & { shape: readonly number[] },
  data: { values: Float64Array; n: number; quantization: Quantization | null },
  o: LmBoundOptions,
  progress?: Progress,
): Promise<Float64Array> {
  const D = sizeOf(model.shape), q = data.quantization;
  const out = new Float64Array(data.n);
  for (let start = 0; start < data.n; start += o.batch) {
    const nb = Math.min(o.batch, data.n - start);
    const y = tidy(() =>
      noGrad(() => {
        const k = tensor(o.backend, data.values.subarray(start * D, (start + nb) * D), [
          nb,
          ...model.shape,
        ], o.dtype);
        if (!q) return k;
        return add(
          mul(
            add(k, o.rng.derive("dequant").at(start * D).uniform(o.backend, k.shape, o.dtype)),
            q.a,
          ),
          q.b,
        );
      })
    );
    const r = await lmChainBound(model, y, {
      tMin: o.tMin,
      steps: o.steps,
      rng: o.rng.derive("path"),
      logPrior: o.logPrior,
      first: start,
    });
    y.dispose();
    const volume = q ? D * Math.log(q.a) : 0;
    r.nll.forEach((v, i) => (out[start + i] = v - volume));
    progress?.update(start + nb);
  }
  return out;
}
