/**
 * Class labels beside a dataset's examples, for class-conditional training: the dataset plus
 * `classes` and `labels(indices)`, read with the same indices as its batches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../compute/rng.ts";
 * import { toyDataset } from "./dataset.ts";
 * const data = withLabels(toyDataset("moons", 4, Rng.fromSeed(0)), Int32Array.of(0, 1, 1, 0), 2);
 * assert.deepEqual(data.labels!([3, 1]), Int32Array.of(0, 1));
 * ```
 */

import type { Dataset } from "./dataset.ts";

/** `data` with one class in [0, classes) per example. */
export function withLabels(data: Dataset, labels: Int32Array, classes: number): Dataset {
  if (labels.length !== data.n) {
    throw new Error(`${data.description}: ${labels.length} labels for ${data.n} examples`);
  }
  const bad = labels.findIndex((l) => !(l >= 0 && l < classes));
  if (bad >= 0) {
    throw new Error(
      `${data.description}: label ${labels[bad]} of example ${bad} ∉ [0, ${classes})`,
    );
  }
  return {
    ...data,
    batch: (indices) => data.batch(indices),
    classes,
    labels(indices) {
      return Int32Array.from(indices, (i) => {
        if (!(Number.isInteger(i) && i >= 0 && i < data.n)) {
          throw new RangeError(`${data.description}: example index ${i} is outside [0, ${data.n})`);
        }
        return labels[i];
      });
    },
  };
}
