/**
 * Labelled mixtures (`"classes"` in a `gmm:` file): class c's conditional p(x | c) is the
 * mixture of its components with their weights renormalised, so every class has an exact score
 * under any process, as the whole mixture has. Labelled training data are drawn class first
 * (by the class weights W_c = Σ_{k ∈ c} w_k), then from that class's mixture: the pairs (x, c)
 * follow p(c) p(x | c) = p(x, c), whose x-marginal is the whole mixture.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const spec = {
 *   source: "two classes",
 *   weights: [0.2, 0.3, 0.5],
 *   means: [[0], [1], [2]],
 *   stds: [1, 1, 1],
 *   shape: [1],
 *   classes: [0, 0, 1],
 * };
 * assert.equal(classCount(spec), 2);
 * assert.deepEqual(classWeights(spec), [0.5, 0.5]);
 * assert.deepEqual(classSpec(spec, 0).weights, [0.4, 0.6]);
 * ```
 */

import { type Backend, type DType, type Rng, sizeOf } from "../compute/mod.ts";
import type { GmmModel } from "./gmm_model.ts";
import type { GmmSpec } from "./gmm_spec.ts";

/** The number of classes of a labelled spec; undefined when it carries none. */
export function classCount(spec: GmmSpec): number | undefined {
  return spec.classes ? Math.max(...spec.classes) + 1 : undefined;
}

/** W_c = Σ_{k ∈ c} w_k for every class c. */
export function classWeights(spec: GmmSpec): number[] {
  const out = new Array<number>(classCount(spec) ?? 0).fill(0);
  spec.classes?.forEach((c, k) => (out[c] += spec.weights[k]));
  return out;
}

/** The mixture p(x | c): class c's components, weights divided by W_c, no classes of its own. */
export function classSpec(spec: GmmSpec, c: number): GmmSpec {
  const members = (spec.classes ?? []).flatMap((ck, k) => (ck === c ? [k] : []));
  if (members.length === 0) throw new RangeError(`${spec.source}: no component of class ${c}`);
  const total = members.reduce((s, k) => s + spec.weights[k], 0);
  return {
    source: `${spec.source} class ${c}`,
    weights: members.map((k) => spec.weights[k] / total),
    means: members.map((k) => spec.means[k]),
    ...(spec.covs ? { covs: members.map((k) => spec.covs![k]) } : {}),
    ...(spec.stds ? { stds: members.map((k) => spec.stds![k]) } : {}),
    shape: [...spec.shape],
  };
}

/**
 * n labelled draws (x, c) ~ p(c) p(x | c) as host rows [n, D] and labels [n]: the classes by
 * the inverse CDF of `rng.derive("class")`'s uniforms, then each class's rows from
 * `rng.derive("rows").derive(c)`, in index order.
 */
export async function sampleLabelled(
  model: GmmModel,
  rng: Rng,
  backend: Backend,
  n: number,
  dtype: DType = "f64",
): Promise<{ rows: Float64Array; labels: Int32Array }> {
  const weights = classWeights(model.spec);
  if (weights.length === 0 || !model.withLabel) {
    throw new Error(`${model.spec.source}: sampleLabelled needs a labelled mixture`);
  }
  const u = rng.derive("class").uniformHost(n), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let c = 0, acc = weights[0];
    while (u[i] >= acc && c < weights.length - 1) acc += weights[++c];
    labels[i] = c;
  }
  const D = sizeOf(model.spec.shape), rows = new Float64Array(n * D);
  for (let c = 0; c < weights.length; c++) {
    const at: number[] = [];
    labels.forEach((l, i) => l === c && at.push(i));
    if (at.length === 0) continue;
    const x = model.withLabel(c).sample(rng.derive("rows").derive(c), backend, at.length, dtype);
    const values = Float64Array.from(await x.read());
    x.dispose();
    at.forEach((i, j) => rows.set(values.subarray(j * D, (j + 1) * D), i * D));
  }
  return { rows, labels };
}
