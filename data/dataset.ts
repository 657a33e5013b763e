/**
 * The training-data interface: a finite, indexable set of examples of one shape, read in
 * batches by index. Training draws an order per epoch with `shuffledOrder` and asks for
 * `batch(order.subarray(…))`, so the data cursor is just (epoch, position) and a resumed run
 * reads the same batches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../compute/rng.ts";
 * const rng = Rng.fromSeed(0);
 * const data = toyDataset("moons", 4096, rng.derive("data"));
 * const order = shuffledOrder(data.n, rng, 0);
 * const x = data.batch(order.subarray(0, 256)); // 256 × 2, row-major
 * assert.equal(x.length, 256 * 2);
 * assert.deepEqual(shuffledOrder(data.n, rng, 0), order); // an epoch's order can be recomputed
 * ```
 */

import { type Rng, sizeOf } from "../compute/mod.ts";
import { sampleToy2d, type Toy2dName } from "./toy2d.ts";
import type { PointSet } from "./points.ts";

export interface Dataset {
  /** number of examples */
  n: number;
  /** shape of one example ([2] for toy data, [C, H, W] for images) */
  shape: number[];
  /** one line for logs and reports, e.g. "toy:moons (4096 points)" */
  description: string;
  /** the examples at `indices`, row-major (indices.length × ∏shape), in the order given */
  batch(indices: Int32Array | number[]): Float64Array;
  /** labelled data only (data/labelled_dataset.ts): the number of classes … */
  classes?: number;
  /** … and the classes (0 … classes − 1) of the examples at `indices` */
  labels?(indices: Int32Array | number[]): Int32Array;
}

/**
 * Above this, 24-bit uniforms cannot reach every swap partner, and the shuffle would stop
 * being uniform.
 */
const MAX_SHUFFLE = 2 ** 24;

/**
 * A uniformly random permutation of 0 … n−1 for `epoch`: Fisher–Yates (from the last position
 * down, swapping i with j = ⌊u_i (i + 1)⌋) driven by `rng.derive("order").derive(epoch)`.
 * Derived streams ignore the counter, so the order depends only on the seed and the epoch —
 * not on how many draws came before — and does not advance `rng`: an epoch's order can be
 * recomputed on resume.
 */
export function shuffledOrder(n: number, rng: Rng, epoch: number): Int32Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SHUFFLE) {
    throw new RangeError(`shuffledOrder: n must be an integer in [0, 2^24], got ${n}`);
  }
  // derive(number) keeps 32 bits; a larger epoch would silently repeat an earlier order.
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= 2 ** 32) {
    throw new RangeError(`shuffledOrder: epoch must be an integer in [0, 2^32), got ${epoch}`);
  }
  const u = rng.derive("order").derive(epoch).uniformHost(n);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * A fixed training set of n points of a toy distribution, drawn once from `rng` (a finite set,
 * as in the likelihood papers' toy experiments, so a test-set NLL means something).
 */
export function toyDataset(name: Toy2dName, n: number, rng: Rng): Dataset {
  const data = sampleToy2d(name, n, rng);
  return tableDataset(data, n, [2], `toy:${name} (${n} points)`);
}

/** A `points:FILE` table as a dataset; `description` defaults to its size and shape. */
export function pointsDataset(points: PointSet, description?: string): Dataset {
  return tableDataset(
    points.data,
    points.n,
    points.shape,
    description ?? `points (${points.n} × ${points.shape.join(" × ")})`,
  );
}

/** Rows of a row-major n × ∏shape table, gathered into a fresh array (callers may mutate it). */
function tableDataset(data: Float64Array, n: number, shape: number[], description: string) {
  const d = sizeOf(shape);
  if (data.length !== n * d) {
    throw new Error(`${description}: ${data.length} values for ${n} examples of ${d}`);
  }
  const dataset: Dataset = {
    n,
    shape: [...shape],
    description,
    batch(indices) {
      const out = new Float64Array(indices.length * d);
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k];
        // An out-of-range index would read undefined → NaN silently: a bug upstream.
        if (!Number.isInteger(i) || i < 0 || i >= n) {
          throw new RangeError(`${description}: example index ${i} is outside [0, ${n})`);
        }
        out.set(data.subarray(i * d, (i + 1) * d), k * d);
      }
      return out;
    },
  };
  return dataset;
}
