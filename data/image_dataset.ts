/**
 * An image set as a training `Dataset`: examples in level units (0 … 2^bits − 1, as floats),
 * [C, H, W] each, with their class labels where the format has them. Scaling to model space
 * and dequantisation happen on the device, per step.
 */

import type { Dataset } from "./dataset.ts";
import type { ImageSet } from "./image_set.ts";
import { withLabels } from "./labelled_dataset.ts";

/** With the set's labels, when it has them: as many classes as the largest label says. */
export function imageDataset(set: ImageSet): Dataset {
  const images = unlabelled(set);
  if (!set.labels || set.n === 0) return images;
  return withLabels(images, set.labels, set.labels.reduce((m, l) => Math.max(m, l), 0) + 1);
}

function unlabelled(set: ImageSet): Dataset {
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
