/**
 * The cpu backend's draws: element i of a draw is `sampleElement(p, i)` of the shared Philox
 * streams (`random/philox.ts`), so every backend draws the same float32 numbers.
 */

import type { RandomParams } from "../backend.ts";
import { sampleElement } from "../random/philox.ts";

export function random(p: RandomParams, O: Float32Array): void {
  for (let i = 0; i < O.length; i++) O[i] = sampleElement(p, i);
}
