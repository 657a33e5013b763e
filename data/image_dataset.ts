/**
 * An image set as a training `Dataset`: examples in level units (0 … 2^bits − 1, as floats),
 * [C, H, W] each. Scaling to model space and dequantisation happen on the device, per step.
 */

import type { Dataset } from "./dataset.ts";
import type { ImageSet } from "./image_set.ts";

export function imageDataset(set: ImageSet): Dataset {
  const d = set.shape[0] * set.shape[1] * set.shape[2];
  return {
    n: set.n,
    shape: [...set.shape],
    description: set.description,
    batch(indices) {
      const out = new Float64Array(indices.length * d);
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k];
        if (!Number.isInteger(i) || i < 0 || i >= set.n) {
          throw new RangeError(`${set.description}: example index ${i} is outside [0, ${set.n})`);
        }
        const src = set.pixels.subarray(i * d, (i + 1) * d);
        for (let j = 0; j < d; j++) out[k * d + j] = src[j];
      }
      return out;
    },
  };
}
